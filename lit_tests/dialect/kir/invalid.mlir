// RUN: kir-opt %s --split-input-file --verify-diagnostics | filecheck %s

// Verifier errors of the `kir` dialect. With --verify-diagnostics, kir-opt prints the error
// message, then the module in generic form with the message under the failing op; each case
// checks the message, the kernel it comes from, and where it is reported.

/// Elementwise ops broadcast only a dimension-1 operand: 3 against 2 is an error.
// CHECK-LABEL: {{^}}kir.add: dimensions 3 and 2 do not broadcast (they must be equal, or 1)
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "broadcast_mismatch"}> ({
// CHECK:         %a = "kir.add"(%x, %y)
// CHECK-NEXT:    ^^^^
// CHECK-NEXT:    | Operation does not verify: kir.add: dimensions 3 and 2 do not broadcast
kir.kernel @broadcast_mismatch {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<2xf32, j>
  %a = kir.add %x, %y : !kir.vec<3xf32, i>, !kir.vec<2xf32, j> -> !kir.vec<3xf32, ij>
  %r = kir.reduce sum over j %a : !kir.vec<3xf32, ij> -> !kir.vec<3xf32, i>
  kir.output %r : !kir.vec<3xf32, i>
}

// -----

/// A squared distance needs two vectors of one dimension (no broadcasting).
// CHECK-LABEL: {{^}}kir.sqdist: operands must have the same dimension, got 3 and 2
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "sqdist_dims"}> ({
// CHECK:         %d = "kir.sqdist"(%x, %y)
// CHECK-NEXT:    ^^^^
// CHECK-NEXT:    | Operation does not verify: kir.sqdist: operands must have the same dimension, got 3 and 2
kir.kernel @sqdist_dims {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<2xf32, j>
  %d = kir.sqdist %x, %y : !kir.vec<3xf32, i>, !kir.vec<2xf32, j> -> !kir.vec<1xf32, ij>
  kir.output
}

// -----

/// The stated result type must be the inferred one: a 3-vector product is not a 2-vector.
// CHECK-LABEL: {{^}}kir.mul: result type should be !kir.vec<3xf32, ij>, got !kir.vec<2xf32, ij>
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "wrong_result_dim"}> ({
// CHECK:         | Operation does not verify: kir.mul: result type should be !kir.vec<3xf32, ij>, got !kir.vec<2xf32, ij>
kir.kernel @wrong_result_dim {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf32, j>
  %m = kir.mul %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf32, j> -> !kir.vec<2xf32, ij>
  kir.output
}

// -----

/// The category of a result is inferred too: an op on an i-value is not j-indexed.
// CHECK-LABEL: {{^}}kir.pow: result type should be !kir.vec<2xf32, i>, got !kir.vec<2xf32, j>
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "wrong_result_category"}> ({
kir.kernel @wrong_result_category {
  %x = kir.var 0 : !kir.vec<2xf32, i>
  %p = kir.pow %x {exponent = 2 : i64} : !kir.vec<2xf32, i> -> !kir.vec<2xf32, j>
  kir.output
}

// -----

/// No implicit conversion between f32 and f64.
// CHECK-LABEL: {{^}}kir.sub: operands must share one element type, got f32, f64
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "mixed_precision"}> ({
// CHECK:         | Operation does not verify: kir.sub: operands must share one element type, got f32, f64
kir.kernel @mixed_precision {
  %x = kir.var 0 : !kir.vec<3xf32, i>
  %y = kir.var 1 : !kir.vec<3xf64, j>
  %d = kir.sub %x, %y : !kir.vec<3xf32, i>, !kir.vec<3xf64, j> -> !kir.vec<3xf32, ij>
  kir.output
}

// -----

/// Formula values are floating point; i64 only comes out of argmin.
// CHECK-LABEL: {{^}}kir.var: operands must be f32 or f64, got i64
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "integer_var"}> ({
kir.kernel @integer_var {
  %x = kir.var 0 : !kir.vec<1xi64, i>
  kir.output
}

// -----

/// A variable is indexed by i or by j, or is a parameter; never by both.
// CHECK-LABEL: {{^}}kir.var: a variable is indexed by i or j, or is a parameter (p), not ij
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "var_ij"}> ({
// CHECK-NEXT:      %x = "kir.var"() <{index = 0 : i64}> : () -> !kir.vec<3xf32, ij>
// CHECK-NEXT:      ^^^^
// CHECK-NEXT:      | Operation does not verify: kir.var: a variable is indexed by i or j, or is a parameter (p), not ij
kir.kernel @var_ij {
  %x = kir.var 0 : !kir.vec<3xf32, ij>
  kir.output
}

// -----

/// Argument positions start at 0.
// CHECK-LABEL: {{^}}kir.var: argument position must be >= 0, got -1
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "negative_position"}> ({
kir.kernel @negative_position {
  %x = kir.var -1 : !kir.vec<1xf32, i>
  kir.output
}

// -----

/// Categories are i, j, p and ij; the type itself rejects anything else.
// CHECK-LABEL: {{^}}kir.vec category must be one of i, j, p, ij, got 'k'
kir.kernel @unknown_category {
  %x = kir.var 0 : !kir.vec<1xf32, k>
  kir.output
}

// -----

/// A constant has exactly one value per entry.
// CHECK-LABEL: {{^}}kir.constant: 2 values for a vector of dimension 3
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "constant_count"}> ({
// CHECK-NEXT:      %c = "kir.constant"() <{value = array<f64: 1.000000e+00, 2.000000e+00>}> : () -> !kir.vec<3xf32, p>
// CHECK-NEXT:      ^^^^
// CHECK-NEXT:      | Operation does not verify: kir.constant: 2 values for a vector of dimension 3
kir.kernel @constant_count {
  %c = kir.constant [1.0, 2.0] : !kir.vec<3xf32, p>
  kir.output
}

// -----

/// A constant depends on no index: its category is p.
// CHECK-LABEL: {{^}}kir.constant: a constant has category p, got i
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "constant_category"}> ({
// CHECK:         | Operation does not verify: kir.constant: a constant has category p, got i
kir.kernel @constant_category {
  %c = kir.constant [1.0] : !kir.vec<1xf32, i>
  kir.output
}

// -----

/// Only the reductions KeOps knows; the message lists them.
// CHECK-LABEL: {{^}}kir.reduce: unknown reduction 'prod' (known: sum, min, max, argmin, argmax, kmin, argkmin, logsumexp, max_sumshiftexp, logsumexp_weight, max_sumshiftexpweight, sumsoftmaxweight, zero)
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "unknown_reduction"}> ({
// CHECK:         %r = "kir.reduce"(%m) <{kind = "prod", axis = 1 : i64}>
// CHECK-NEXT:    ^^^^
// CHECK-NEXT:    | Operation does not verify: kir.reduce: unknown reduction 'prod'
kir.kernel @unknown_reduction {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %y = kir.var 1 : !kir.vec<1xf32, j>
  %m = kir.mul %x, %y : !kir.vec<1xf32, i>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
  %r = kir.reduce prod over j %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}

// -----

/// argmin gives indices: its result is i64 whatever the operand's element type.
// CHECK-LABEL: {{^}}kir.reduce: result type should be !kir.vec<1xi64, i>, got !kir.vec<1xf32, i>
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "argmin_type"}> ({
kir.kernel @argmin_type {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %y = kir.var 1 : !kir.vec<1xf32, j>
  %m = kir.mul %x, %y : !kir.vec<1xf32, i>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
  %r = kir.reduce argmin over j %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}

// -----

/// Reducing over j gives one row per i: the result is i-indexed, not j-indexed.
// CHECK-LABEL: {{^}}kir.reduce: result type should be !kir.vec<1xf32, i>, got !kir.vec<1xf32, j>
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "reduce_category"}> ({
kir.kernel @reduce_category {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %y = kir.var 1 : !kir.vec<1xf32, j>
  %m = kir.mul %x, %y : !kir.vec<1xf32, i>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
  %r = kir.reduce sum over j %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, j>
  kir.output %r : !kir.vec<1xf32, j>
}

// -----

/// The outputs of one kernel share one (i, j) loop nest: only sums may reduce over the other index.
// CHECK-LABEL: {{^}}kir.kernel: reductions over the other index than the first one's must be sums (accumulated by columns in the same pass), got max
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "two_axes"}> ({
// CHECK-NEXT:    ^^^^
// CHECK-NEXT:    | Operation does not verify: kir.kernel: reductions over the other index than the first one's must be sums (accumulated by columns in the same pass), got max
kir.kernel @two_axes {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %y = kir.var 1 : !kir.vec<1xf32, j>
  %m = kir.mul %x, %y : !kir.vec<1xf32, i>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
  %r = kir.reduce sum over j %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  %s = kir.reduce max over i %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, j>
  kir.output %r, %s : !kir.vec<1xf32, i>, !kir.vec<1xf32, j>
}

// -----

/// One argument position is one array: it cannot be read as an i-variable and a j-variable.
// CHECK-LABEL: {{^}}kir.kernel: argument 0 is used as !kir.vec<1xf32, i> and as !kir.vec<1xf32, j>
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "same_position"}> ({
// CHECK-NEXT:    ^^^^
// CHECK-NEXT:    | Operation does not verify: kir.kernel: argument 0 is used as !kir.vec<1xf32, i> and as !kir.vec<1xf32, j>
kir.kernel @same_position {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  %y = kir.var 0 : !kir.vec<1xf32, j>
  %m = kir.mul %x, %y : !kir.vec<1xf32, i>, !kir.vec<1xf32, j> -> !kir.vec<1xf32, ij>
  %r = kir.reduce sum over j %m : !kir.vec<1xf32, ij> -> !kir.vec<1xf32, i>
  kir.output %r : !kir.vec<1xf32, i>
}

// -----

/// A kernel's outputs are reductions, not formula values.
// CHECK-LABEL: {{^}}kir.output: every output must be the result of a kir.reduce
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kir.kernel"() <{sym_name = "output_not_reduce"}> ({
// CHECK-NEXT:      %x = "kir.var"() <{index = 0 : i64}> : () -> !kir.vec<1xf32, i>
// CHECK-NEXT:      "kir.output"(%x) : (!kir.vec<1xf32, i>) -> ()
// CHECK-NEXT:      ^^^^
// CHECK-NEXT:      | Operation does not verify: kir.output: every output must be the result of a kir.reduce
kir.kernel @output_not_reduce {
  %x = kir.var 0 : !kir.vec<1xf32, i>
  kir.output %x : !kir.vec<1xf32, i>
}

// -----

/// A kernel ends with kir.output.
// CHECK-LABEL: {{^}}Operation kir.var terminates block in single-block region but is not a terminator
kir.kernel @no_output {
  %x = kir.var 0 : !kir.vec<1xf32, i>
}
