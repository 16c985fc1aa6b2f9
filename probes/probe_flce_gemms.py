# GPU node only (python3 with the PyTorch wheel): python3 probes/probe_flce_gemms.py
# Times the pieces of one FLCE chunk on the GPU (bf16, H 4096, V 128256): which GEMMs dominate,
# what dW's beta=1 accumulation and its zero-init cost, and whether a memory-bound kernel on a
# second stream overlaps a GEMM.
import torch, statistics
torch.backends.cuda.matmul.allow_tf32 = False
dev = "cuda"; H, V = 4096, 128256
def t(fn, n=15):
    for _ in range(3): fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(n):
        a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); b.synchronize(); ts.append(a.elapsed_time(b))
    return statistics.median(ts)
W = torch.randn(V, H, device=dev, dtype=torch.bfloat16) * 0.02
dW = torch.zeros(V, H, device=dev, dtype=torch.bfloat16)
print(torch.cuda.get_device_name(), torch.__version__)
for rows in (2048, 4096):
    x = torch.randn(rows, H, device=dev, dtype=torch.bfloat16)
    L = torch.empty(rows, V, device=dev, dtype=torch.bfloat16)
    dx = torch.empty(rows, H, device=dev, dtype=torch.bfloat16)
    fl = 2 * rows * H * V / 1e12
    r = {}
    r["logits mm"] = t(lambda: torch.mm(x, W.t(), out=L))
    r["dx mm"] = t(lambda: torch.mm(L, W, out=dx))
    r["dW mm beta0"] = t(lambda: torch.mm(L.t(), x, out=dW))
    r["dW addmm beta1"] = t(lambda: dW.addmm_(L.t(), x))
    r["logits elementwise r+w"] = t(lambda: L.mul_(1.0))
    for k, v in r.items():
        extra = f"{fl / (v * 1e-3):.0f} TFLOP/s" if "mm" in k else f"{2 * L.numel() * 2 / (v * 1e-3) / 1e9:.0f} GB/s"
        print(f"rows {rows}: {k:24s} {v:.3f} ms  {extra}")
    s2 = torch.cuda.Stream()
    L2 = torch.empty_like(L)
    def overlap():
        cur = torch.cuda.current_stream()
        s2.wait_stream(cur)
        with torch.cuda.stream(s2):
            L2.mul_(1.0)
        torch.mm(L.t(), x, out=dW)
        cur.wait_stream(s2)
    print(f"rows {rows}: dW mm + elementwise on 2nd stream {t(overlap):.3f} ms (serial {r['dW mm beta0'] + r['logits elementwise r+w']:.3f})")
print(f"zeros V x H bf16: {t(lambda: dW.zero_()):.3f} ms")
