"""LLVM IR -> optimized machine code for the host, JIT-loaded, callable through ctypes."""

from __future__ import annotations

import ctypes
import threading
from functools import cache

import llvmlite.binding as llvm
from llvmlite import ir

KERNEL_CFUNC = ctypes.CFUNCTYPE(
    None, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p
)
"""void kernel(begin, end, reduced, args, outs); ctypes releases the GIL during the call."""

_LOCK = threading.Lock()


@cache
def _initialize() -> None:
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()


@cache
def host_cpu() -> tuple[str, str]:
    """This CPU's name and features as LLVM spells them ('znver3', '+avx2,+fma,...'), read once."""
    _initialize()
    return llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()


# LLVM's native target is initialized, and the host CPU read, when kir is imported: every
# kernel, compiled or loaded from the disk cache, needs them.
host_cpu()


def host_target_machine() -> llvm.TargetMachine:
    """A new target machine for this CPU, its name and features read from LLVM.

    Not shared: an MCJIT engine takes ownership of the target machine it is given.
    """
    _initialize()
    target = llvm.Target.from_default_triple()
    cpu, features = host_cpu()
    return target.create_target_machine(
        cpu=cpu,
        features=features,
        opt=3,
        codemodel="jitdefault",
    )


LLVM_PASSES = (
    "instruction_combine",
    "simplify_cfg",
    "new_gvn",
    "instruction_combine",
    "simplify_cfg",
)
"""The optimization passes run on a kernel's LLVM IR. kir's IR comes vectorized, its loops
explicit and their invariants hoisted: it needs folding, value numbering and clean-up, not the
whole O3 pipeline, whose vectorizers, loop passes and repeated InstCombine took 5x as long
(75 ms of a 150 ms compile) for machine code measured as fast (Gaussian sum, its gradient,
LogSumExp, ArgKMin at D = 3 and 16, a Gaussian at D = 256). The code generator still runs at
O3 (instruction scheduling, loop strength reduction, machine LICM)."""


def optimize(llvm_module: llvm.ModuleRef, target_machine: llvm.TargetMachine) -> None:
    """Run kir's LLVM passes (LLVM_PASSES) on `llvm_module` in place."""
    passes = llvm.create_new_module_pass_manager()
    for name in LLVM_PASSES:
        getattr(passes, f"add_{name}_pass")()
    options = llvm.create_pipeline_tuning_options(speed_level=3)
    passes.run(llvm_module, llvm.create_pass_builder(target_machine, options))


@cache
def host_data_layout() -> str:
    """The host target's data layout string (read once: LLVM's TargetData is not reentrant)."""
    return str(host_target_machine().target_data)


def host_ir_module(module: ir.Module) -> ir.Module:
    """`module` with the host's triple and data layout set."""
    module.triple = llvm.get_process_triple()
    module.data_layout = host_data_layout()
    return module


class JitModule:
    """Machine code for one LLVM module; keeps the engine, module and target machine alive
    together (freeing one while another is in use crashes the process).

    `object_code` is the relocatable object MCJIT made (what a disk cache keeps);
    `JitModule.from_object` loads such an object without compiling anything."""

    def __init__(self, module: ir.Module):
        self.target_machine = host_target_machine()
        objects: list[bytes] = []
        with _LOCK:
            self.llvm_module = llvm.parse_assembly(str(host_ir_module(module)))
            self.llvm_module.verify()
            optimize(self.llvm_module, self.target_machine)
            self.engine = llvm.create_mcjit_compiler(self.llvm_module, self.target_machine)
            # MCJIT hands the object it generates to an object cache: kept, it is what a
            # later process can load instead of compiling.
            self.engine.set_object_cache(lambda _module, buffer: objects.append(bytes(buffer)))
            self.engine.finalize_object()
        self.object_code = objects[0] if objects else None
        self.optimized = True

    @classmethod
    def from_object(cls, object_code: bytes) -> JitModule:
        """Machine code loaded from an object `JitModule.object_code` gave (same CPU and LLVM)."""
        jit = cls.__new__(cls)
        jit.target_machine = host_target_machine()
        with _LOCK:
            # An empty module whose object the cache hook supplies: MCJIT loads the object as
            # that module's code, without running a code generator (adding the object to an
            # engine would still compile the empty module).
            jit.llvm_module = llvm.parse_assembly("")
            jit.engine = llvm.create_mcjit_compiler(jit.llvm_module, jit.target_machine)
            jit.engine.set_object_cache(getbuffer_func=lambda _module: object_code)
            jit.engine.finalize_object()
        jit.object_code = object_code
        jit.optimized = False
        return jit

    def function(self, name: str) -> ctypes._CFuncPtr:
        """The compiled kernel `name` as a ctypes function."""
        address = self.engine.get_function_address(name)
        if not address:
            raise KeyError(f"no compiled function named {name!r}")
        function = KERNEL_CFUNC(address)
        function.owner = self  # the machine code lives as long as the engine
        return function

    def optimized_ir(self) -> str:
        """The module's LLVM IR after optimization (not kept for code loaded from an object)."""
        if not self.optimized:
            raise ValueError("machine code loaded from an object file has no LLVM IR")
        return str(self.llvm_module)
