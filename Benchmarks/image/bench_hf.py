#!/usr/bin/env python3
"""Reference: transformers CLIPImageProcessor + Pillow on the same files, one thread.
Usage: python bench_hf.py DIR [passes]"""
import os, sys, time
os.environ.setdefault("OMP_NUM_THREADS", "1")
from PIL import Image
from transformers import CLIPImageProcessor

d = sys.argv[1]
passes = int(sys.argv[2]) if len(sys.argv) > 2 else 5
files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".jpg"))
proc = CLIPImageProcessor()
for f in files:  # warm-up
    proc(images=Image.open(f), return_tensors="np")
rates, cpu_rates = [], []
for _ in range(passes):
    t, c = time.perf_counter(), time.process_time()
    for f in files:
        pv = proc(images=Image.open(f), return_tensors="np")["pixel_values"]
    rates.append(len(files) / (time.perf_counter() - t))
    cpu_rates.append(len(files) / (time.process_time() - c))
rates.sort()
cpu_rates.sort()
print(f"hf  threads=1 wall images/s median {rates[len(rates)//2]:.1f} (min {rates[0]:.1f} max {rates[-1]:.1f}); "
      f"per CPU-second {cpu_rates[len(cpu_rates)//2]:.1f}")
