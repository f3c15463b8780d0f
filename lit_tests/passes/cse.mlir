// RUN: kir-opt %s -p cse | filecheck %s

// Common subexpression elimination on the formula level: formula ops are pure, so two ops
// with the same operands and properties compute the same value.

/// Two identical squared distances: one is left, and both uses read it.
// CHECK-LABEL: kir.kernel @duplicated_sqdist {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[Y:.*]] = kir.var 1 : !kir.vec<3xf32, j>
// CHECK-NEXT:    %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NOT:     kir.sqdist
// CHECK-NEXT:    %[[S:.*]] = kir.add %[[D]], %[[D]] : !kir.vec<1xf32, ij>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:    %[[R:.*]] = kir.reduce sum over j %[[S]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    kir.output %[[R]] : !kir.vec<1xf32, i>
// CHECK-NEXT:  }
kir.kernel @duplicated_sqdist {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %d1 = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %d2 = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %s = kir.add %d1, %d2 : !kir.vec<1xf32, ij>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %r = kir.reduce sum over j %s : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}

/// A variable read twice, and a chain built on each read: the whole chain is shared.
// CHECK-LABEL: kir.kernel @duplicated_chain {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<2xf32, i>
// CHECK-NEXT:    %[[N:.*]] = kir.neg %[[X]] : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
// CHECK-NEXT:    %[[E:.*]] = kir.exp %[[N]] : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
// CHECK-NEXT:    %[[M:.*]] = kir.mul %[[E]], %[[E]] : !kir.vec<2xf32, i>, !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
// CHECK-NEXT:    %[[R:.*]] = kir.reduce sum over j %[[M]] : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
// CHECK-NEXT:    kir.output %[[R]] : !kir.vec<2xf32, i>
// CHECK-NEXT:  }
kir.kernel @duplicated_chain {
  %x1 = kir.var 0 : !kir.vec<2xf32, i>
  %x2 = kir.var 0 : !kir.vec<2xf32, i>
  %n1 = kir.neg %x1 : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
  %n2 = kir.neg %x2 : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
  %e1 = kir.exp %n1 : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
  %e2 = kir.exp %n2 : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
  %m = kir.mul %e1, %e2 : !kir.vec<2xf32, i>, !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
  %r = kir.reduce sum over j %m : !kir.vec<2xf32, i> -> !kir.vec<2xf32, i>
  kir.output %r : !kir.vec<2xf32, i>
}

/// Properties are part of an op's identity: different exponents, constants or reduction
/// kinds stay apart; equal constants, and then the equal products and sums built on them, merge.
// CHECK-LABEL: kir.kernel @distinct_properties {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<1xf32, i>
// CHECK-NEXT:    %[[C2:.*]] = kir.constant [2.0] : !kir.vec<1xf32, p>
// CHECK-NEXT:    %[[C3:.*]] = kir.constant [3.0] : !kir.vec<1xf32, p>
// CHECK-NEXT:    %[[P2:.*]] = kir.pow %[[X]] {exponent = 2 : i64} : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    %[[P3:.*]] = kir.pow %[[X]] {exponent = 3 : i64} : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    %[[A:.*]] = kir.mul %[[P2]], %[[C2]] : !kir.vec<1xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    %[[B:.*]] = kir.mul %[[P3]], %[[C3]] : !kir.vec<1xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    %[[S:.*]] = kir.reduce sum over j %[[A]] : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    %[[M:.*]] = kir.reduce max over j %[[A]] : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    %[[T:.*]] = kir.reduce sum over j %[[B]] : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    kir.output %[[S]], %[[M]], %[[T]], %[[S]] : !kir.vec<1xf32, i>, !kir.vec<1xf32, i>, !kir.vec<1xf32, i>, !kir.vec<1xf32, i>
// CHECK-NEXT:  }
kir.kernel @distinct_properties {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %c2 = kir.constant [2.0] : !kir.vec<1xf32, p>
  %c3 = kir.constant [3.0] : !kir.vec<1xf32, p>
  %c2b = kir.constant [2.0] : !kir.vec<1xf32, p>
  %p2 = kir.pow %x {exponent = 2 : i64} : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  %p3 = kir.pow %x {exponent = 3 : i64} : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  %a = kir.mul %p2, %c2 : !kir.vec<1xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, i>
  %b = kir.mul %p3, %c3 : !kir.vec<1xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, i>
  %c = kir.mul %p2, %c2b : !kir.vec<1xf32, i>, !kir.vec<1xf32, p> -> !kir.vec<1xf32, i>
  %s = kir.reduce sum over j %a : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  %m = kir.reduce max over j %a : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  %t = kir.reduce sum over j %b : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  %u = kir.reduce sum over j %c : !kir.vec<1xf32, i> -> !kir.vec<1xf32, i>
  kir.output %s, %m, %t, %u : !kir.vec<1xf32, i>, !kir.vec<1xf32, i>, !kir.vec<1xf32, i>, !kir.vec<1xf32, i>
}
