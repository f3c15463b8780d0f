"""pykeops-compatible front-ends: LazyTensor, Genred, KernelSolve and the cluster helpers.

`kir.numpy` and `kir.torch` expose them with pykeops' names (docs/lazytensor.md).
"""
