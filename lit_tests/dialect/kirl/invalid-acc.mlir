// Reduction states are checked: element type of acc_update operands, known kinds in !kirl.acc.
// The CPU back-end relies on it (it would otherwise fail inside llvmlite).
// RUN: kir-opt %s --split-input-file --verify-diagnostics | filecheck %s
// Each case expects an error message (a line that is not part of a printed module) first.

/// An f32 value does not fit an f64 state.
// CHECK:      {{^[^ "/].*}}
// CHECK-NEXT:  "builtin.module"() ({
// CHECK-NEXT:    "kirl.func"() <{sym_name = "update_element_type"}> ({
kirl.func @update_element_type {
^bb0(%begin: index, %end: index, %reduced: index):
  %x = kirl.load 0[%begin] : !kir.vec<1xf32, i>
  %init = kirl.acc_init : !kirl.acc<sum, 1xf64>
  %next = kirl.acc_update %init, %x at %begin : !kirl.acc<sum, 1xf64>, !kir.vec<1xf32, i>
  kirl.return
}

// -----

/// A state of a reduction kir does not know.
// CHECK:      {{^[^ "/].*prod}}
kirl.func @unknown_kind {
^bb0(%begin: index, %end: index, %reduced: index):
  %init = kirl.acc_init : !kirl.acc<prod, 1xf32>
  kirl.return
}
