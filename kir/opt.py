"""kir-opt: run kir's passes on IR text, or start from a formula and print any stage.

    kir-opt file.mlir -p cse                                  # a pass on hand-written IR
    kir-opt file.mlir -p kir-lower-to-loops --print-between-passes
    kir-opt --formula "Exp(-SqDist(x,y))*b" --alias "x=Vi(3)" --alias "y=Vj(3)" \\
            --alias "b=Vj(1)" --reduction Sum --axis 1 --emit=loops

Built on xDSL's opt driver, so `-p` pipelines with options (`-p 'kir-block-reduction{block=64}'`),
`--print-between-passes`, `--verify-diagnostics`, `--split-input-file` and `-t` come from it;
the IR is verified after every pass.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import IO

from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.exceptions import DiagnosticException, ParseError
from xdsl.xdsl_opt_main import xDSLOptMain

from kir.context import kir_dialects, module_text
from kir.errors import KirError
from kir.passes import get_all_passes
from kir.pipeline import formula_passes, loop_passes, run_passes

EMIT_STAGES = ("kir", "loops", "llvm", "llvm-opt", "gpu-llvm", "ptx")


def _emit_llvm(module: ModuleOp, output: IO[str]) -> None:
    from kir.backends.cpu.codegen import to_llvm_module

    output.write(str(to_llvm_module(module)))


class KirOptMain(xDSLOptMain):
    """xDSL's opt driver with kir's dialects, passes, an LLVM target and formula input."""

    def register_all_dialects(self) -> None:
        super().register_all_dialects()
        for name, factory in kir_dialects().items():
            self.ctx.register_dialect(name, factory)

    def register_all_passes(self) -> None:
        for name, factory in get_all_passes().items():
            self.register_pass(name, factory)

    def register_all_targets(self) -> None:
        super().register_all_targets()
        self.available_targets["llvm"] = _emit_llvm

    def register_all_arguments(self, arg_parser: argparse.ArgumentParser) -> None:
        super().register_all_arguments(arg_parser)
        group = arg_parser.add_argument_group("starting from a formula")
        group.add_argument("--formula", help="a formula in KeOps syntax, instead of an input file")
        group.add_argument(
            "--alias", action="append", default=[], help="an argument declaration, e.g. 'x=Vi(3)'"
        )
        group.add_argument(
            "--reduction", default="Sum", help="a reduction as Genred names it (Sum, ArgKMin, ...)"
        )
        group.add_argument("--opt-arg", type=int, help="K of the K-min reductions (Genred's opt_arg)")
        group.add_argument("--formula2", help="the weight formula of SumSoftMaxWeight and weighted LogSumExp")
        group.add_argument("--axis", type=int, default=1, help="1: reduce over j; 0: over i")
        group.add_argument("--dtype", default="float32", choices=("float32", "float64"))
        group.add_argument(
            "--gradient",
            type=int,
            metavar="POSITION",
            help="instead of the kernel, its gradient kernel with respect to argument POSITION",
        )
        arg_parser.add_argument(
            "--emit",
            choices=EMIT_STAGES,
            help="after the -p passes, lower with the default pipeline to this stage and print it",
        )
        arg_parser.add_argument(
            "--sm",
            type=int,
            default=80,
            help="compute capability of --emit=ptx, x10 (80: sm_80, the default; 90: sm_90)",
        )
        arg_parser.add_argument(
            "--block", type=int, default=192, help="threads per block of --emit=gpu-llvm / ptx"
        )
        arg_parser.add_argument(
            "--scheme",
            choices=("1d", "2d"),
            default="1d",
            help="GPU scheme of --emit=gpu-llvm / ptx: 1d (a thread per output row) or 2d (the "
            "reduced index split over blocks: the partial and combine kernels)",
        )
        arg_parser.add_argument(
            "--fast-math",
            action="store_true",
            help="--emit=gpu-llvm / ptx with libdevice's approximate float32 math, denormals flushed",
        )
        arg_parser.add_argument(
            "--schedule",
            choices=("scalar", "host"),
            default="scalar",
            help="loop schedule of --emit: scalar (one pair at a time, the default) or host "
            "(what kir.compile picks for this CPU: SIMD lanes, row tiles; needs --formula)",
        )

    def run(self) -> None:
        if self.args.formula is None and self.args.emit is None:
            super().run()
            return
        module = self._formula_module() if self.args.formula is not None else self._input_module()
        self.apply_passes(module)
        text = self.emit(module, self.args.emit or "kir")
        sys.stdout.write(text if text.endswith("\n") else text + "\n")

    def _formula_module(self) -> ModuleOp:
        from kir.kernel import Kernel

        self._kernel = kernel = Kernel.from_formula(
            self.args.formula,
            self.args.alias,
            self.args.reduction,
            self.args.axis,
            None,
            self.args.opt_arg,
            self.args.formula2,
        )
        if self.args.gradient is not None:
            plans = kernel.gradients((self.args.gradient,))
            if not plans:
                raise KirError(f"the gradient with respect to argument {self.args.gradient} is zero")
            kernel = self._kernel = plans[0].kernel
        return kernel.module(self.args.dtype)

    def _input_module(self) -> ModuleOp:
        chunks, extension = self.prepare_input()
        if len(chunks) != 1:
            raise KirError("--emit takes one module; drop --split-input-file")
        module = self.parse_chunk(chunks[0][0], extension)
        assert module is not None
        return module

    def emit(self, module: ModuleOp, stage: str) -> str:
        """`module` lowered to `stage` and printed."""
        if stage == "kir":
            return module_text(module)
        if stage in ("gpu-llvm", "ptx"):
            if self.args.formula is None:
                raise KirError(f"--emit={stage} needs --formula (the GPU code is made from the kernel)")
            from kir.backends.cuda.program import DeviceOptions, DeviceProgram

            options = DeviceOptions(block=self.args.block, fast_math=self.args.fast_math)
            device_ir = DeviceProgram(self._kernel, self.args.dtype, options).llvm_ir(self.args.scheme)
            if stage == "gpu-llvm":
                return device_ir
            from kir.backends.cuda.ptx import compile_ptx

            return compile_ptx(device_ir, self.args.sm)
        schedule = None
        if self.args.schedule == "host":
            if self.args.formula is None:
                raise KirError("--schedule host needs --formula (the schedule depends on the kernel)")
            schedule = self._kernel.schedule(self.args.dtype)
        run_passes(module, formula_passes() + loop_passes(schedule), context=self.ctx)
        if stage == "loops":
            return module_text(module)
        from kir.backends.cpu.codegen import to_llvm_module

        llvm_module = to_llvm_module(module)
        if stage == "llvm":
            return str(llvm_module)
        from kir.backends.cpu.jit import JitModule

        return JitModule(llvm_module).optimized_ir()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `kir-opt` console script."""
    try:
        KirOptMain(description="kir's modular optimizer driver", args=argv).run()
    except (KirError, DiagnosticException, ParseError) as error:
        sys.stderr.write(f"kir-opt: error: {error}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
