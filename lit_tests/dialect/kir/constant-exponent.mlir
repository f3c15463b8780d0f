// Constants whose shortest spelling has an exponent (or is inf/nan) print in a form that
// parses back: MLIR's float literal needs a '.' before the exponent.
// RUN: kir-opt %s | kir-opt | filecheck %s
// RUN: kir-opt --formula "Exp(-x*0.00001)" --alias "x=Vi(1)" --emit=kir | kir-opt | filecheck %s --check-prefix=FORMULA

/// Constants whose shortest spelling has an exponent survive a round trip.
// CHECK-LABEL: kir.kernel @exponents {
// CHECK-NEXT:    %{{.*}} = kir.constant [1.0e-05, 1.0e+20, -2.5e-10, inf, nan] : !kir.vec<5xf64, p>
// CHECK-NEXT:    kir.output
kir.kernel @exponents {
  %c = kir.constant [1.0e-05, 1.0e+20, -2.5e-10, inf, nan] : !kir.vec<5xf64, p>
  kir.output
}

// FORMULA-LABEL: kir.kernel @kernel {
// FORMULA:         kir.constant [{{.*}}] : !kir.vec<1xf32, p>
