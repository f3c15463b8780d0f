// A kir.reduce result may only be a kernel output: a formula op reading it is rejected.
// RUN: kir-opt %s --verify-diagnostics | filecheck %s

/// A reduction read by a formula op inside the kernel.
// CHECK: kir.kernel: the result of a kir.reduce may only be a kernel output, but kir.exp uses it
kir.kernel @reduce_used_in_formula {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %y = kir.var 1 : !kir.vec<1xf32, j>
  %m = kir.mul %x, %y : !kir.vec<1xf32, i>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
  %r = kir.reduce sum over j %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  %e = kir.exp %r : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}
