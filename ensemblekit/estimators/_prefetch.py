"""Software prefetch of matrix rows, for loops that visit rows in shuffled order.

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


def _as_i64(builder, value, ty):
    """An integer argument widened to 64 bits, by its Numba type's signedness."""
    if value.type.width < 64:
        return builder.sext(value, _I64) if ty.signed else builder.zext(value, _I64)
    return value


def _ceil_lines(builder, nbytes):
    return builder.udiv(builder.add(nbytes, ir.Constant(_I64, _LINE - 1)), ir.Constant(_I64, _LINE))


def _prefetch_at(builder, addr):
    """One prefetch of the line holding byte address ``addr``: read, high temporal locality,
    data cache."""
    fnty = ir.FunctionType(ir.VoidType(), [_I8P, _I32, _I32, _I32])
    fn = cgutils.get_or_insert_function(builder.module, fnty, _NAME)
    builder.call(fn, [builder.inttoptr(addr, _I8P), ir.Constant(_I32, 0),
                      ir.Constant(_I32, 3), ir.Constant(_I32, 1)])


def _prefetch_lines(builder, start, n_lines):
    """One prefetch per cache line, ``n_lines`` of them from byte address ``start``."""
    with cgutils.for_range(builder, n_lines) as loop:
        _prefetch_at(builder, builder.add(start, builder.mul(loop.index, ir.Constant(_I64, _LINE))))


def _base_and_itemsize(context, builder, aryty, ary_value):
    ary = context.make_array(aryty)(context, builder, ary_value)
    itemsize = context.get_abi_sizeof(context.get_data_type(aryty.dtype))
    return ary, builder.ptrtoint(ary.data, _I64), ir.Constant(_I64, itemsize)


@intrinsic
def prefetch_row(typingctx, arr, i):
    """Hint the CPU to load every cache line of row ``i`` of a C-contiguous 2-D array."""

    def codegen(context, builder, sig, args):
        ary, base, item = _base_and_itemsize(context, builder, sig.args[0], args[0])
        row_bytes = builder.mul(builder.extract_value(ary.shape, 1), item)
        row = _as_i64(builder, args[1], sig.args[1])
        _prefetch_lines(builder, builder.add(base, builder.mul(row, row_bytes)),
                        _ceil_lines(builder, row_bytes))
        return context.get_dummy_value()

    return types.void(arr, i), codegen


@intrinsic
def prefetch_span(typingctx, arr, start, stop):
    """Hint the CPU to load the cache lines of ``arr[start:stop]`` (a 1-D contiguous array).

    For CSR rows visited in shuffled order: a row's ``data`` and ``indices`` entries lie
    at a random place in memory, like a dense row."""

    def codegen(context, builder, sig, args):
        _, base, item = _base_and_itemsize(context, builder, sig.args[0], args[0])
        lo = _as_i64(builder, args[1], sig.args[1])
        hi = _as_i64(builder, args[2], sig.args[2])
        # whole cache lines from the one holding arr[start] to the one before arr[stop]
        first = builder.and_(builder.add(base, builder.mul(lo, item)),
                             ir.Constant(_I64, ~(_LINE - 1)))
        nbytes = builder.sub(builder.add(base, builder.mul(hi, item)), first)
        positive = builder.icmp_signed(">", nbytes, ir.Constant(_I64, 0))
        n_lines = builder.select(positive, _ceil_lines(builder, nbytes), ir.Constant(_I64, 0))
        _prefetch_lines(builder, first, n_lines)
        return context.get_dummy_value()

    return types.void(arr, start, stop), codegen


@intrinsic
def prefetch_item(typingctx, arr, i):
    """Hint the CPU to load the cache line holding ``arr[i]`` (a 1-D contiguous array)."""

    def codegen(context, builder, sig, args):
        _, base, item = _base_and_itemsize(context, builder, sig.args[0], args[0])
        idx = _as_i64(builder, args[1], sig.args[1])
        _prefetch_at(builder, builder.add(base, builder.mul(idx, item)))
        return context.get_dummy_value()

    return types.void(arr, i), codegen
