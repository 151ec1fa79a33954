"""Recover float weights from an exported int8 erx model, so a new run can continue from a
shipped model whose PyTorch checkpoint is not kept.

Dynamic quantisation stores each Linear weight as `<name>_quantized` (int8, [in, out]) with
a per-column scale and zero point, under an anonymous name (`onnx::MatMul_778`); the bias
keeps its parameter name. Each weight is named by walking from its MatMulInteger to the
first Add that reads a `*.bias` initializer. Input channels split off in float (outliers,
see scripts/export.py `split_outliers`) are read back from their float rows. 4-bit embedding
tables (`export.py --embedding-bits 4`: GatherBlockQuantized, signed int4 in blocks along
the hidden axis, one scale per block) are `<name>_Q4` with `<name>_scales`. Dequantised
weights differ from the trained ones by at most half a quantisation step.
"""

import numpy as np


def dequantized_state(onnx_path):
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(onnx_path).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    consumers = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def bias_after(node, depth=0):
        for out in node.output:
            for nxt in consumers.get(out, []):
                for name in nxt.input:
                    if name.endswith(".bias") and name in init:
                        return name
                if depth < 6:
                    found = bias_after(nxt, depth + 1)
                    if found:
                        return found
        return None

    def dequant(base):
        q = init[base + "_quantized"].astype(np.float32)
        return (q - init[base + "_zero_point"].astype(np.float32)) * init[base + "_scale"]

    state = {}
    for node in graph.node:
        if node.op_type == "GatherBlockQuantized":
            state.update(dequant_blocks(node, init))
    for name, value in init.items():
        if not name.endswith("_quantized"):
            if not name.endswith(("_scale", "_scales", "_zero_point")) and value.dtype == np.float32:
                state[name] = value  # parameters by name, and folded constants (onnx::Add_N)
            continue
        base = name[: -len("_quantized")]
        if not base.startswith("onnx::"):  # embeddings keep their names (Gather + DequantizeLinear)
            state[base] = dequant(base)
            continue
        node = next(n for n in consumers[name] if n.op_type == "MatMulInteger")
        bias = bias_after(node)
        if bias is None:
            raise ValueError(f"cannot name the weight {base}")
        state[bias[: -len(".bias")] + ".weight"] = dequant(base).T.copy()
    # rows split off in float (scripts/export.py split_outliers): the int8 weight holds zeros
    # there; the float rows feed a MatMul whose input is a Gather of those channels
    producer = {out: node for node in graph.node for out in node.output}
    for name, rows in init.items():
        if not name.endswith("_outlier_rows"):
            continue
        matmul = next(n for n in consumers[name] if n.op_type == "MatMul")
        channels = init[producer[matmul.input[0]].input[1]]
        bias = bias_after(matmul)
        if bias is None:
            raise ValueError(f"cannot name the weight holding {name}")
        weight = state[bias[: -len(".bias")] + ".weight"]  # [out, in]
        weight[:, channels] = rows.T
    return state


def dequant_blocks(node, init):
    """{table name: float table} for a GatherBlockQuantized node: gathered along axis 0,
    quantised in blocks along axis 1, without zero points (symmetric)."""
    attrs = {a.name: a.i for a in node.attribute}
    if attrs.get("gather_axis", 0) != 0 or attrs.get("quantize_axis", 1) != 1 or len(node.input) > 3:
        raise ValueError(f"GatherBlockQuantized {node.name}: only gather axis 0, blocks along axis 1, "
                         "no zero points are read back")
    data, scales = node.input[0], node.input[2]
    q = init[data].astype(np.float32)
    block = attrs.get("block_size", 32)
    table = (q.reshape(q.shape[0], -1, block) * init[scales][:, :, None]).reshape(q.shape)
    name = data[: -len("_Q4")] if data.endswith("_Q4") else data
    return {name: table}


def folded_constant(state, prefix, shape):
    """The one constant that the exporter folded from a parameter (an anonymous `onnx::Add_N`
    or `onnx::Expand_N` of this shape), or None when there is not exactly one: in erx's
    graphs `token_type.weight[0]` becomes an `onnx::Add` of [hidden], and v2's
    `rel_bias.view(1, 1, R, 1)` an `onnx::Expand`."""
    found = [v for k, v in state.items() if k.startswith(prefix) and tuple(v.shape) == tuple(shape)]
    return found[0] if len(found) == 1 else None
