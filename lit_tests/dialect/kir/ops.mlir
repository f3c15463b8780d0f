// RUN: kir-opt %s | kir-opt | filecheck %s
// RUN: kir-opt %s --print-op-generic | kir-opt | filecheck %s

// Round trip of every `kir` op: the custom form is printed back as it was written, and
// parsing the printed (or generic) form gives the same IR again.

/// Variables of the three categories a variable may have (i, j, p), in f32 and f64.
// CHECK-LABEL: kir.kernel @var {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[Y:.*]] = kir.var 1 : !kir.vec<3xf32, j>
// CHECK-NEXT:    %[[P:.*]] = kir.var 2 : !kir.vec<1xf32, p>
// CHECK-NEXT:    %[[Z:.*]] = kir.var 3 : !kir.vec<2xf64, j>
// CHECK-NEXT:    %[[S:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:    %[[R:.*]] = kir.reduce sum over j %[[S]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    kir.output %[[R]] : !kir.vec<1xf32, i>
// CHECK-NEXT:  }
kir.kernel @var {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %p = kir.var 2 : !kir.vec<1xf32, p>
  %z = kir.var 3 : !kir.vec<2xf64, j>
  %s = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %r = kir.reduce sum over j %s : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}

/// Constants: one entry, a negative entry, several entries, an integer literal (printed as a
/// float), f64.
// CHECK-LABEL: kir.kernel @constant {
// CHECK-NEXT:    %{{.*}} = kir.constant [2.0] : !kir.vec<1xf32, p>
// CHECK-NEXT:    %{{.*}} = kir.constant [-1.5] : !kir.vec<1xf32, p>
// CHECK-NEXT:    %{{.*}} = kir.constant [1.0, -2.0, 3.25] : !kir.vec<3xf32, p>
// CHECK-NEXT:    %{{.*}} = kir.constant [4.0, 0.125] : !kir.vec<2xf64, p>
// CHECK-NEXT:    kir.output{{$}}
// CHECK-NEXT:  }
kir.kernel @constant {
  %one = kir.constant [2.0] : !kir.vec<1xf32, p>
  %negative = kir.constant [-1.5] : !kir.vec<1xf32, p>
  %several = kir.constant [1.0, -2.0, 3.25] : !kir.vec<3xf32, p>
  %double = kir.constant [4, 0.125] : !kir.vec<2xf64, p>
  kir.output
}

/// Elementwise unary ops keep the operand's type; `kir.pow` carries an integer exponent.
// CHECK-LABEL: kir.kernel @unary {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[NEG:.*]] = kir.neg %[[X]] : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[EXP:.*]] = kir.exp %[[NEG]] : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[LOG:.*]] = kir.log %[[EXP]] : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[SQRT:.*]] = kir.sqrt %[[LOG]] : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[SQUARE:.*]] = kir.square %[[SQRT]] : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[CUBE:.*]] = kir.pow %[[SQUARE]] {exponent = 3 : i64} : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[INV:.*]] = kir.pow %[[CUBE]] {exponent = -2 : i64} : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[R:.*]] = kir.reduce max over j %[[INV]] : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
// CHECK-NEXT:    kir.output %[[R]] : !kir.vec<3xf32, i>
kir.kernel @unary {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %neg = kir.neg %x : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  %exp = kir.exp %neg : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  %log = kir.log %exp : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  %sqrt = kir.sqrt %log : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  %square = kir.square %sqrt : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  %cube = kir.pow %square {exponent = 3 : i64} : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  %inv = kir.pow %cube {exponent = -2 : i64} : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  %r = kir.reduce max over j %inv : !kir.vec<3xf32, i> -> !kir.vec<3xf32, i>
  kir.output %r : !kir.vec<3xf32, i>
}

/// `kir.sum` adds up a vector's entries: the result has dimension 1 and the same category.
// CHECK-LABEL: kir.kernel @sum {
// CHECK-NEXT:    %[[Y:.*]] = kir.var 0 : !kir.vec<4xf64, j>
// CHECK-NEXT:    %[[S:.*]] = kir.sum %[[Y]] : !kir.vec<4xf64, j> -> !kir.vec<1xf64, j>
// CHECK-NEXT:    %[[R:.*]] = kir.reduce sum over j %[[S]] : !kir.vec<1xf64, j> -> !kir.vec<1xf64, i>
// CHECK-NEXT:    kir.output %[[R]] : !kir.vec<1xf64, i>
kir.kernel @sum {
  %y = kir.var 0 : !kir.vec<4xf64, j>
  %s = kir.sum %y : !kir.vec<4xf64, j> -> !kir.vec<1xf64, j>
  %r = kir.reduce sum over j %s : !kir.vec<1xf64, j> -> !kir.vec<1xf64, i>
  kir.output %r : !kir.vec<1xf64, i>
}

/// Binary elementwise ops: categories join (i + j = ij, ij + p = ij) and a dimension-1
/// operand broadcasts against the other, on either side.
// CHECK-LABEL: kir.kernel @binary {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[Y:.*]] = kir.var 1 : !kir.vec<3xf32, j>
// CHECK-NEXT:    %[[G:.*]] = kir.var 2 : !kir.vec<1xf32, p>
// CHECK-NEXT:    %[[C:.*]] = kir.constant [1.0, -2.0, 3.25] : !kir.vec<3xf32, p>
// CHECK-NEXT:    %[[ADD:.*]] = kir.add %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<3xf32, ij>
// CHECK-NEXT:    %[[SUB:.*]] = kir.sub %[[ADD]], %[[G]] : !kir.vec<3xf32, ij>, !kir.vec<1xf32, p> -> !kir.vec<3xf32, ij>
// CHECK-NEXT:    %[[MUL:.*]] = kir.mul %[[SUB]], %[[C]] : !kir.vec<3xf32, ij>, !kir.vec<3xf32, p> -> !kir.vec<3xf32, ij>
// CHECK-NEXT:    %[[DIV:.*]] = kir.div %[[G]], %[[MUL]] : !kir.vec<1xf32, p>, !kir.vec<3xf32, ij> -> !kir.vec<3xf32, ij>
// CHECK-NEXT:    %[[POWF:.*]] = kir.powf %[[DIV]], %[[G]] : !kir.vec<3xf32, ij>, !kir.vec<1xf32, p> -> !kir.vec<3xf32, ij>
// CHECK-NEXT:    %[[R:.*]] = kir.reduce sum over j %[[POWF]] : !kir.vec<3xf32, ij> -> !kir.vec<3xf32, i>
// CHECK-NEXT:    kir.output %[[R]] : !kir.vec<3xf32, i>
kir.kernel @binary {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %g = kir.var 2 : !kir.vec<1xf32, p>
  %c = kir.constant [1.0, -2.0, 3.25] : !kir.vec<3xf32, p>
  %add = kir.add %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<3xf32, ij>
  %sub = kir.sub %add, %g : !kir.vec<3xf32, ij>, !kir.vec<1xf32, p> -> !kir.vec<3xf32, ij>
  %mul = kir.mul %sub, %c : !kir.vec<3xf32, ij>, !kir.vec<3xf32, p> -> !kir.vec<3xf32, ij>
  %div = kir.div %g, %mul : !kir.vec<1xf32, p>, !kir.vec<3xf32, ij> -> !kir.vec<3xf32, ij>
  %powf = kir.powf %div, %g : !kir.vec<3xf32, ij>, !kir.vec<1xf32, p> -> !kir.vec<3xf32, ij>
  %r = kir.reduce sum over j %powf : !kir.vec<3xf32, ij> -> !kir.vec<3xf32, i>
  kir.output %r : !kir.vec<3xf32, i>
}

/// Scalar product and squared distance take two same-dimension vectors and give a scalar.
// CHECK-LABEL: kir.kernel @pair {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<3xf32, i>
// CHECK-NEXT:    %[[Y:.*]] = kir.var 1 : !kir.vec<3xf32, j>
// CHECK-NEXT:    %[[DOT:.*]] = kir.scalprod %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:    %[[D:.*]] = kir.sqdist %[[X]], %[[Y]] : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:    %[[M:.*]] = kir.mul %[[DOT]], %[[D]] : !kir.vec<1xf32, ij>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:    %[[R:.*]] = kir.reduce sum over j %[[M]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
// CHECK-NEXT:    kir.output %[[R]] : !kir.vec<1xf32, i>
kir.kernel @pair {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %dot = kir.scalprod %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<1xf32, ij>
  %m = kir.mul %dot, %d : !kir.vec<1xf32, ij>, !kir.vec<1xf32, ij> -> !kir.vec<1xf32, ij>
  %r = kir.reduce sum over j %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}

/// Every reduction kind over j, all outputs of one kernel: the result is i-indexed, and
/// argmin gives i64 indices.
// CHECK-LABEL: kir.kernel @reduce_over_j {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<2xf64, i>
// CHECK-NEXT:    %[[Y:.*]] = kir.var 1 : !kir.vec<2xf64, j>
// CHECK-NEXT:    %[[D:.*]] = kir.sub %[[X]], %[[Y]] : !kir.vec<2xf64, i>, !kir.vec<2xf64, j> -> !kir.vec<2xf64, ij>
// CHECK-NEXT:    %[[SUM:.*]] = kir.reduce sum over j %[[D]] : !kir.vec<2xf64, ij> -> !kir.vec<2xf64, i>
// CHECK-NEXT:    %[[MIN:.*]] = kir.reduce min over j %[[D]] : !kir.vec<2xf64, ij> -> !kir.vec<2xf64, i>
// CHECK-NEXT:    %[[MAX:.*]] = kir.reduce max over j %[[D]] : !kir.vec<2xf64, ij> -> !kir.vec<2xf64, i>
// CHECK-NEXT:    %[[ARG:.*]] = kir.reduce argmin over j %[[D]] : !kir.vec<2xf64, ij> -> !kir.vec<2xi64, i>
// CHECK-NEXT:    %[[LSE:.*]] = kir.reduce logsumexp over j %[[D]] : !kir.vec<2xf64, ij> -> !kir.vec<2xf64, i>
// CHECK-NEXT:    kir.output %[[SUM]], %[[MIN]], %[[MAX]], %[[ARG]], %[[LSE]] : !kir.vec<2xf64, i>, !kir.vec<2xf64, i>, !kir.vec<2xf64, i>, !kir.vec<2xi64, i>, !kir.vec<2xf64, i>
// CHECK-NEXT:  }
kir.kernel @reduce_over_j {
  %x = kir.var 0 : !kir.vec<2xf64, i>
  %y = kir.var 1 : !kir.vec<2xf64, j>
  %d = kir.sub %x, %y : !kir.vec<2xf64, i>, !kir.vec<2xf64, j> -> !kir.vec<2xf64, ij>
  %sum = kir.reduce sum over j %d : !kir.vec<2xf64, ij> -> !kir.vec<2xf64, i>
  %min = kir.reduce min over j %d : !kir.vec<2xf64, ij> -> !kir.vec<2xf64, i>
  %max = kir.reduce max over j %d : !kir.vec<2xf64, ij> -> !kir.vec<2xf64, i>
  %arg = kir.reduce argmin over j %d : !kir.vec<2xf64, ij> -> !kir.vec<2xi64, i>
  %lse = kir.reduce logsumexp over j %d : !kir.vec<2xf64, ij> -> !kir.vec<2xf64, i>
  kir.output %sum, %min, %max, %arg, %lse : !kir.vec<2xf64, i>, !kir.vec<2xf64, i>, !kir.vec<2xf64, i>, !kir.vec<2xi64, i>, !kir.vec<2xf64, i>
}

/// Every reduction kind over i: the results are j-indexed.
// CHECK-LABEL: kir.kernel @reduce_over_i {
// CHECK-NEXT:    %[[X:.*]] = kir.var 0 : !kir.vec<1xf32, i>
// CHECK-NEXT:    %[[Y:.*]] = kir.var 1 : !kir.vec<1xf32, j>
// CHECK-NEXT:    %[[M:.*]] = kir.mul %[[X]], %[[Y]] : !kir.vec<1xf32, i>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
// CHECK-NEXT:    %[[SUM:.*]] = kir.reduce sum over i %[[M]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, j>
// CHECK-NEXT:    %[[MIN:.*]] = kir.reduce min over i %[[M]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, j>
// CHECK-NEXT:    %[[MAX:.*]] = kir.reduce max over i %[[M]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, j>
// CHECK-NEXT:    %[[ARG:.*]] = kir.reduce argmin over i %[[M]] : !kir.vec<1xf32, ij> -> !kir.vec<1xi64, j>
// CHECK-NEXT:    %[[LSE:.*]] = kir.reduce logsumexp over i %[[M]] : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, j>
// CHECK-NEXT:    kir.output %[[SUM]], %[[MIN]], %[[MAX]], %[[ARG]], %[[LSE]] : !kir.vec<1xf32, j>, !kir.vec<1xf32, j>, !kir.vec<1xf32, j>, !kir.vec<1xi64, j>, !kir.vec<1xf32, j>
// CHECK-NEXT:  }
kir.kernel @reduce_over_i {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %y = kir.var 1 : !kir.vec<1xf32, j>
  %m = kir.mul %x, %y : !kir.vec<1xf32, i>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
  %sum = kir.reduce sum over i %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, j>
  %min = kir.reduce min over i %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, j>
  %max = kir.reduce max over i %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, j>
  %arg = kir.reduce argmin over i %m : !kir.vec<1xf32, ij> -> !kir.vec<1xi64, j>
  %lse = kir.reduce logsumexp over i %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, j>
  kir.output %sum, %min, %max, %arg, %lse : !kir.vec<1xf32, j>, !kir.vec<1xf32, j>, !kir.vec<1xf32, j>, !kir.vec<1xi64, j>, !kir.vec<1xf32, j>
}

/// A kernel may have no output at all.
// CHECK-LABEL: kir.kernel @empty {
// CHECK-NEXT:    kir.output{{$}}
// CHECK-NEXT:  }
kir.kernel @empty {
  kir.output
}
