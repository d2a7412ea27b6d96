"""A decoder step that attends with the wrong state: the query is the LSTM's new state
next_h (Luong et al.'s order, computing the context after the step) instead of prev_h, and the
context does not enter the gates. Its backward's test runs it, and greedy decoding calls it
through the given decoder_step_forward, so both lose their points too."""

import numpy as np

LOSES = {
    "test_attention_decoder_step_forward": "own bug: attends with next_h; ctx not in the gates",
    "test_attention_decoder_step_backward": "cascade: its test runs the wrong step forward",
    "test_greedy_decode": "cascade: the given decoder_step_forward calls the wrong step",
}


def attention_decoder_step_forward(x, prev_h, prev_c, keys, values, p, attention):
    next_h, next_c, lstm_cache = lstm_step_forward(x, prev_h, prev_c, p["Wx"], p["Wh"], p["b"])
    if attention == "additive":
        ctx, weights, att_cache = additive_attention_forward(next_h, keys, values, p["Wq"],
                                                             p["v"])
    else:
        ctx, weights, att_cache = dot_attention_forward(next_h, values)
    return next_h, next_c, ctx, weights, (attention, att_cache, lstm_cache)


def attention_decoder_step_backward(dnext_h, dnext_c, dctx, cache):
    attention, att_cache, lstm_cache = cache
    if attention == "additive":
        dq, dkeys, dvalues, dWq, dv = additive_attention_backward(dctx, att_cache)
    else:
        (dq, dvalues), dkeys = dot_attention_backward(dctx, att_cache), None
    dx, dprev_h, dprev_c, dWx, dWh, db = lstm_step_backward(dnext_h + dq, dnext_c, lstm_cache)
    grads = {"Wx": dWx, "Wh": dWh, "b": db, "Wattn": np.zeros((dWh.shape[0], dWh.shape[1]))}
    if attention == "additive":
        grads["Wq"], grads["v"] = dWq, dv
    return dx, dprev_h, dprev_c, dkeys, dvalues, grads
