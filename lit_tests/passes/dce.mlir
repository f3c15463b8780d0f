// RUN: kir-opt %s -p dce | filecheck %s
// RUN: kir-opt %s -p dce | filecheck %s --check-prefix=GONE

// Dead code elimination on the formula level: a formula op whose value no reduction reads,
// directly or through other ops, is removed. The GONE prefix checks the whole output for what
// must not be left anywhere.

/// An exp and a product nobody reads go, with the variable only they read; a reduction that
/// is not an output goes too.
// CHECK-LABEL: kir.kernel @unused_ops {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[Y:.*]] = kir.var 1 : !kir.vec<3xf32, j>
// CHECK-NEXT:    %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:    %[[R:.*]] = kir.reduce sum over j %[[D]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    kir.output %[[R]] : !kir.vec<1xf32, i>
// CHECK-NEXT:  }
// GONE-NOT:    kir.exp
// GONE-NOT:    kir.var 2
// GONE-NOT:    kir.reduce max
kir.kernel @unused_ops {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %b = kir.var 2 : !kir.vec<1xf32, j>
  %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %dead = kir.exp %d : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %dead2 = kir.mul %dead, %b : !kir.vec<1xf32, ij>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
  %unused = kir.reduce max over j %d : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  %r = kir.reduce sum over j %d : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}

/// Nothing to remove: every op feeds the output, and the kernel is printed unchanged.
// CHECK-LABEL: kir.kernel @all_live {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<1xf32, i>
// CHECK-NEXT:    %[[G:.*]] = kir.var 1 : !kir.vec<1xf32, p>
// CHECK-NEXT:    %[[M:.*]] = kir.mul %[[X]], %[[G]] : !kir.vec<1xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    %[[R:.*]] = kir.reduce min over j %[[M]] : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    kir.output %[[R]] : !kir.vec<1xf32, i>
// CHECK-NEXT:  }
kir.kernel @all_live {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %g = kir.var 1 : !kir.vec<1xf32, p>
  %m = kir.mul %x, %g : !kir.vec<1xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, i>
  %r = kir.reduce min over j %m : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}
