"""Cost of PIB's digital work (issue 8): local loss, randomized entropy, training steps, memory.

Each table is one run of this script, timings interleaved across the variants compared (so
that a load change on a shared machine hits them alike), after warm-up calls, as medians; the
ratios in a table come from one run. Everything is float32 on the chosen device with a fixed
number of threads. Tables (``python -m benchmarks.perf TABLE``):

- ``local-loss``: the whole local loss of one unit (Gram matrix of the measured output,
  I(X;T), I(T;Y) and the gradient with respect to T, as ``PIB.local_gradient`` computes it)
  for each ``BottleneckEstimator`` implementation, against the batch size n (width 256);
- ``randomized``: the randomized (stochastic Lanczos) entropy against the eigenvalue path at
  one n (2048): error over seeds for three kinds of Gram matrix and three orders, time, and
  the error for other (probes, steps, deflation);
- ``step``: one PIB training step (3 units of width 256, batch 256, crossbar) against one
  backprop step on the same network shape (``pnnkit.learning.Backprop`` on the ideal
  substrate, and a plain torch MLP with Adam); a PIB step's digital time is its wall time
  minus the time spent inside the substrate's measure/program/read calls
  (``Counters.hardware_seconds``), and, for the alpha = 2 closed form, also the whole time of
  a step whose substrates answer from a recording (:class:`replay.ReplayedHardware`: no simulation
  runs in the process, as on real hardware);
- ``scaling``: PIB step digital time against batch size and against unit width, with the
  fitted exponent of ``time ~ size^p``;
- ``epoch``: one end-to-end training epoch on digits (train steps and one evaluation);
- ``memory``: peak memory of the one-unit local loss (peak resident set size of a fresh
  process above its level before the call; on CUDA, ``torch.cuda.max_memory_allocated``);
- ``train-check``: test accuracy of PIB on digits after a short training with each
  implementation (does the randomized gradient train?).

Modules: :mod:`harness` (clock, interleaved timing, output, workloads), :mod:`replay`
(hardware clocks and replayed substrates), one module per table; ``__main__`` the command line.

Each table prints a markdown table and writes ``perf_TABLE.csv`` (and a ``.png`` plot for the
curves) into ``--out``.

Usage: ``python -m benchmarks.perf TABLE [--threads 1] [--device cpu] [--out DIR]``
"""
