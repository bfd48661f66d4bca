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


@intrinsic
def prefetch_span(typingctx, arr, start, stop):
    """Hint the CPU to load the cache lines of ``arr[start:stop]`` (a 1-D contiguous array).

    For CSR rows visited in shuffled order: a row's ``data`` and ``indices`` entries lie
    at a random place in memory, like a dense row."""

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        itemsize = context.get_abi_sizeof(context.get_data_type(aryty.dtype))
        lo, hi = args[1], args[2]
        if lo.type.width < 64:
            lo = builder.sext(lo, _I64)
        if hi.type.width < 64:
            hi = builder.sext(hi, _I64)
        base = builder.ptrtoint(ary.data, _I64)
        item = ir.Constant(_I64, itemsize)
        first = builder.add(base, builder.mul(lo, item))
        last = builder.add(base, builder.mul(hi, item))
        # whole cache lines from the one holding arr[start] to the one before arr[stop]
        mask = ir.Constant(_I64, ~(_LINE - 1))
        first = builder.and_(first, mask)
        nbytes = builder.sub(last, first)
        positive = builder.icmp_signed(">", nbytes, ir.Constant(_I64, 0))
        n_lines = builder.select(
            positive,
            builder.udiv(builder.add(nbytes, ir.Constant(_I64, _LINE - 1)),
                         ir.Constant(_I64, _LINE)),
            ir.Constant(_I64, 0))
        fnty = ir.FunctionType(ir.VoidType(), [_I8P, _I32, _I32, _I32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _NAME)
        with cgutils.for_range(builder, n_lines) as loop:
            addr = builder.add(first, builder.mul(loop.index, ir.Constant(_I64, _LINE)))
            builder.call(fn, [builder.inttoptr(addr, _I8P), ir.Constant(_I32, 0),
                              ir.Constant(_I32, 3), ir.Constant(_I32, 1)])
        return context.get_dummy_value()

    return types.void(arr, start, stop), codegen


@intrinsic
def prefetch_item(typingctx, arr, i):
    """Hint the CPU to load the cache line holding ``arr[i]`` (a 1-D contiguous array)."""

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        itemsize = context.get_abi_sizeof(context.get_data_type(aryty.dtype))
        idx = args[1]
        if idx.type.width < 64:
            idx = builder.sext(idx, _I64)
        addr = builder.add(builder.ptrtoint(ary.data, _I64),
                           builder.mul(idx, ir.Constant(_I64, itemsize)))
        fnty = ir.FunctionType(ir.VoidType(), [_I8P, _I32, _I32, _I32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _NAME)
        builder.call(fn, [builder.inttoptr(addr, _I8P), ir.Constant(_I32, 0),
                          ir.Constant(_I32, 3), ir.Constant(_I32, 1)])
        return context.get_dummy_value()

    return types.void(arr, i), codegen
