FROM debian:bookworm-slim
EXPOSE http
HEALTHCHECK --intervl=30s CMD true
USER
