#pragma once
// ligerbenchd's settings: configs/server.yaml parsed into ServerConfig, flags on top, defaults filled.
#include <string>
#include <vector>

#include "ligerbench/v1/config.pb.h"

namespace ligerbench::server {

// Parses a YAML file into ServerConfig; unknown keys and bad values raise InputError naming
// file:line:key.
v1::ServerConfig load_config(const std::string& path);
v1::ServerConfig parse_config(const std::string& yaml_text, const std::string& file_name);

// Fills unset fields with their defaults (listen 127.0.0.1:50051, metrics 127.0.0.1:9464,
// db ligerbench.db, ...). `self_exe` locates the worker beside the server binary.
void apply_defaults(v1::ServerConfig& config, const std::string& self_exe);

// Checks the settings that need no I/O; throws InputError. Without TLS a listen address other
// than loopback needs insecure_listen_any.
void check_config(const v1::ServerConfig& config);

// True for 127.0.0.0/8, ::1 and localhost (with any port).
bool is_loopback_address(const std::string& host_port);

// "%g": 3600, 0.5, 1e+10.
std::string format_number(double v);

// Whole file as a string; throws InputError naming `what`.
std::string read_file(const std::string& path, const std::string& what);

}  // namespace ligerbench::server
