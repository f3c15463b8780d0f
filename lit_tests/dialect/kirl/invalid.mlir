// RUN: kir-opt %s --split-input-file --verify-diagnostics | filecheck %s

// Verifier errors of the loop-level `kirl` dialect (see ../kir/invalid.mlir for the format).

/// A parameter is one row: it is loaded without a row index.
// CHECK-LABEL: {{^}}kirl.load: a parameter is loaded without a row, a variable with one
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kirl.func"() <{sym_name = "parameter_with_row"}> ({
// CHECK-NEXT:    ^bb0(%begin: index, %end: index, %reduced: index):
// CHECK-NEXT:    %p = "kirl.load"(%begin) <{arg = 2 : i64, operandSegmentSizes = array<i32: 1, 0>}> : (index) -> !kir.vec<1xf32, p>
// CHECK-NEXT:    ^^^^
// CHECK-NEXT:    | Operation does not verify: kirl.load: a parameter is loaded without a row, a variable with one
kirl.func @parameter_with_row {
^bb0(%begin: index, %end: index, %reduced: index):
  %p = kirl.load 2[%begin] : !kir.vec<1xf32, p>
  kirl.return
}

// -----

/// An i- or j-variable is loaded at a row.
// CHECK-LABEL: {{^}}kirl.load: a parameter is loaded without a row, a variable with one
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kirl.func"() <{sym_name = "variable_without_row"}> ({
// CHECK-NEXT:    ^bb0(%begin: index, %end: index, %reduced: index):
// CHECK-NEXT:    %x = "kirl.load"() <{arg = 0 : i64, operandSegmentSizes = array<i32: 0, 0>}> : () -> !kir.vec<3xf32, i>
// CHECK-NEXT:    ^^^^
// CHECK-NEXT:    | Operation does not verify: kirl.load: a parameter is loaded without a row, a variable with one
kirl.func @variable_without_row {
^bb0(%begin: index, %end: index, %reduced: index):
  %x = kirl.load 0 : !kir.vec<3xf32, i>
  kirl.return
}

// -----

/// A kirl.func takes exactly three arguments...
// CHECK-LABEL: {{^}}kirl.func takes three index arguments: first output row, end row, reduced size
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kirl.func"() <{sym_name = "two_arguments"}> ({
// CHECK-NEXT:    ^^^^
// CHECK-NEXT:    | Operation does not verify: kirl.func takes three index arguments: first output row, end row, reduced size
kirl.func @two_arguments {
^bb0(%begin: index, %end: index):
  kirl.return
}

// -----

/// ...all three of type index.
// CHECK-LABEL: {{^}}kirl.func takes three index arguments: first output row, end row, reduced size
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kirl.func"() <{sym_name = "i64_argument"}> ({
kirl.func @i64_argument {
^bb0(%begin: index, %end: index, %reduced: i64):
  kirl.return
}

// -----

/// A state over 1-vectors cannot take a 3-vector.
// CHECK-LABEL: {{^}}kirl.acc_update: values of dimensions [3] do not fit !kirl.acc<sum, 1xf32> (expected [1])
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kirl.func"() <{sym_name = "update_dimension"}> ({
// CHECK:         %next = "kirl.acc_update"(%init, %begin, %x)
// CHECK-NEXT:    ^^^^
// CHECK-NEXT:    | Operation does not verify: kirl.acc_update: values of dimensions [3] do not fit !kirl.acc<sum, 1xf32> (expected [1])
kirl.func @update_dimension {
^bb0(%begin: index, %end: index, %reduced: index):
  %x = kirl.load 0[%begin] : !kir.vec<3xf32, i>
  %init = kirl.acc_init : !kirl.acc<sum, 1xf32>
  %next = kirl.acc_update %init, %x at %begin : !kirl.acc<sum, 1xf32>, !kir.vec<3xf32, i>
  kirl.return
}

// -----

/// Only states of one reduction combine (generic form: the custom form states one type).
// CHECK-LABEL: {{^}}operand 'later' at position 1 does not verify:
// CHECK-NEXT:  attribute !kirl.acc<sum, 1xf32> expected from variable 'STATE', but got !kirl.acc<max, 1xf32>
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kirl.func"() <{sym_name = "combine_kinds"}> ({
kirl.func @combine_kinds {
^bb0(%begin: index, %end: index, %reduced: index):
  %a = kirl.acc_init : !kirl.acc<sum, 1xf32>
  %b = kirl.acc_init : !kirl.acc<max, 1xf32>
  %c = "kirl.acc_combine"(%a, %b) : (!kirl.acc<sum, 1xf32>, !kirl.acc<max, 1xf32>) -> !kirl.acc<sum, 1xf32>
  kirl.return
}

// -----

/// A chunk is a slice of one row: it cannot be wider than the row.
// CHECK-LABEL: {{^}}kirl.load: a chunk of 8 entries from rows of 4
kirl.func @chunk_wider_than_row {
^bb0(%begin: index, %end: index, %reduced: index):
  %x = kirl.load 0[%begin] entries %begin of 4 : !kir.vec<8xf32, i>
  kirl.return
}

// -----

/// Folding lanes gives the same state in one lane.
// CHECK-LABEL: {{^}}kirl.acc_reduce_lanes: the result is the operand's state in one lane
kirl.func @reduce_lanes_changes_kind {
^bb0(%begin: index, %end: index, %reduced: index):
  %a = kirl.acc_init : !kirl.acc<sum, 1xf32, lanes = 16>
  %b = kirl.acc_reduce_lanes %a : !kirl.acc<sum, 1xf32, lanes = 16> -> !kirl.acc<min, 1xf32>
  kirl.return
}
