# Where FLCE's full step (BT 8192, H 4096, V 128256 bf16) spends its time (GPU node, after
# scripts/gpu.sh has built build-gpu): our operator loaded from the build's shared library, one
# training step (forward + torch.autograd.grad) timed (hot, median of 20) and then under the torch
# profiler (kernel times and the gaps between them), and its 12 GEMMs alone in the same process.
#   python3 probes/profile_flce_step.py
import glob, json, os, statistics, sys
import torch
lib = glob.glob("build-gpu/**/libliger_kernels.so", recursive=True)[0]
torch.ops.load_library(lib)
out = os.environ.get("OUT", ".")
torch.manual_seed(0)
dev = "cuda"; BT, H, V = 8192, 4096, 128256
x = torch.randn(BT, H, device=dev, dtype=torch.bfloat16, requires_grad=True)
W = ((torch.rand(V, H, device=dev, dtype=torch.bfloat16) * 2 - 1) / H ** 0.5).requires_grad_(True)
tgt = torch.randint(0, V, (BT,), device=dev)
def step():
    loss = torch.ops.liger.fused_linear_cross_entropy(x, W, tgt)[0]
    return torch.autograd.grad(loss, [x, W])
def timed(fn, n=20):
    for _ in range(3): fn()
    torch.cuda.synchronize(); ts = []
    for _ in range(n):
        a = torch.cuda.Event(enable_timing=True); b = torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); b.synchronize(); ts.append(a.elapsed_time(b))
    return statistics.median(ts), min(ts), max(ts)
print(torch.cuda.get_device_name(), torch.__version__)
print("step median/min/max ms: %.3f %.3f %.3f" % timed(step))
rows = 2048
xs = x.detach()[:rows]; Wd = W.detach()
L = torch.empty(rows, V, device=dev, dtype=torch.bfloat16); dx = torch.empty(rows, H, device=dev, dtype=torch.bfloat16)
dW = torch.empty(V, H, device=dev, dtype=torch.bfloat16)
def gemms():
    for c in range(BT // rows):
        torch.mm(xs, Wd.t(), out=L); torch.mm(L, Wd, out=dx)
        if c == 0: torch.mm(L.t(), xs, out=dW)
        else: dW.addmm_(L.t(), xs)
print("the 12 GEMMs alone median/min/max ms: %.3f %.3f %.3f" % timed(gemms))
from torch.profiler import profile, ProfilerActivity
for _ in range(2): step()
torch.cuda.synchronize()
with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as prof:
    step(); torch.cuda.synchronize()
    step(); torch.cuda.synchronize()
prof.export_chrome_trace("/tmp/flce_trace.json")
ev = json.load(open("/tmp/flce_trace.json"))["traceEvents"]
k = sorted([e for e in ev if e.get("cat") in ("kernel", "gpu_memset", "gpu_memcpy")], key=lambda e: e["ts"])
half = len(k) // 2
last = k[half:]
print(f"kernels in the second step: {len(last)}")
t0 = last[0]["ts"]; prev_end = t0; busy = 0
for e in last:
    gap = e["ts"] - prev_end
    print(f"{(e['ts'] - t0) / 1e3:9.3f} ms  dur {e['dur'] / 1e3:8.3f} ms  gap {gap / 1e3:7.3f}  {e['name'][:110]}")
    prev_end = e["ts"] + e["dur"]; busy += e["dur"]
print(f"span {(prev_end - t0) / 1e3:.3f} ms, busy {busy / 1e3:.3f} ms")
print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25))
