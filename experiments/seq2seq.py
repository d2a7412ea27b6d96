"""Number words to digits with an encoder-decoder: no attention, additive and dot attention,
and teacher forcing against free running and scheduled sampling.

The task is rnnlib.numbers (docs/numbers.md): English number words, American or British,
to digits; the test numbers never occur in training. Three LSTM encoder-decoders
(rnnlib.seq2seq) train with teacher forcing for the same steps on the same stream of
batches: without attention (the encoder's last state only, Sutskever et al. 2014), with
additive attention (Bahdanau et al. 2015) and with scaled dot-product attention (Luong et
al. 2015). Then the model without attention, the one that makes mistakes to study, trains
twice more: free running (it always reads its own previous prediction) and with scheduled
sampling (Bengio et al. 2015: the true token with a probability that decays over training).

Every model is scored on the whole test set: exact match and chrF (sacrebleu) of greedy and
of beam decoding, exact match by source length, and the token accuracy with the true prefix
(teacher-forced) against the accuracy of greedy decoding position by position, whose gap is
the exposure bias. Chapter 11 shows the tables, the plots and attention maps.

    python -m experiments.seq2seq              # writes results/seq2seq.json
"""

import argparse
import math

import numpy as np
from sacrebleu.metrics import CHRF
from threadpoolctl import threadpool_limits

from rnnlib.numbers import NumberData
from rnnlib.provenance import finish_header
from rnnlib.results import run_header, write_json
from rnnlib.seq2seq import Seq2Seq
from rnnlib.training import Model, Trainer

CONFIG = {"wordvec_dim": 32, "hidden_dim": 128, "attn_dim": 64, "batch_size": 64,
          "steps": 4000, "lr": 3e-3, "clip": 5.0, "train_size": 20000, "test_size": 2400,
          "data_seed": 0, "beam_width": 5, "max_length": 14, "alignments": 4,
          "record_first": 5}
# name -> (attention, training mode)
RUNS = {"none": (None, "teacher"), "additive": ("additive", "teacher"),
        "dot": ("dot", "teacher"), "none-free": (None, "free"),
        "none-scheduled": (None, "scheduled")}
SEED = 0
SUPPORTS_RESUME = False


def schedule_k(steps):
    """k of Bengio et al.'s inverse sigmoid decay eps_i = k / (k + exp(i / k)), chosen so that
    the probability of the true token falls to one half at the middle of training."""
    lo, hi = 1.0, float(steps)
    for _ in range(60):  # k exp(-... ) solved by bisection: k = exp(steps / 2k)
        k = (lo + hi) / 2
        lo, hi = (k, hi) if k < math.exp(steps / (2 * k)) else (lo, k)
    return k


def true_token_probability(mode, step, steps):
    """The probability that the decoder reads the true previous token at a training step."""
    if mode == "teacher":
        return 1.0
    if mode == "free":
        return 0.0
    k = schedule_k(steps)
    return k / (k + math.exp(step / k))


def make_model(data, attention, cfg):
    return Seq2Seq(len(data.src_vocab), len(data.tgt_vocab), cfg["wordvec_dim"],
                   cfg["hidden_dim"], attention, cfg["attn_dim"], seed=SEED)


def train(data, name, cfg, stop_at=None):
    """Train one run of RUNS; returns (model, trainer). Batches from seed [SEED, 1]."""
    attention, mode = RUNS[name]
    model = make_model(data, attention, cfg)
    step = [0]

    def batches(rng):
        src, tgt = data.batch(rng, cfg["batch_size"])
        eps = true_token_probability(mode, step[0], cfg["steps"])
        feed = rng.random((tgt.shape[0], tgt.shape[1] - 1)) < eps
        feed[:, 0] = True
        step[0] += 1
        return src, tgt, feed

    trainer = Trainer(Model(model.params, model.loss), batches, num_steps=cfg["steps"],
                      update_rule="adam", optim_config={"learning_rate": cfg["lr"]},
                      clip_norm=cfg["clip"], clock="cpu", seed=[SEED, 1],
                      record_first=cfg["record_first"]).run(stop_at=stop_at)
    return model, trainer


def token_accuracies(data, model, pairs, max_length):
    """Token accuracy over the target positions (the digits and <END>) of `pairs` (one
    source length): (teacher-forced, greedy position by position, greedy rows). Greedy
    decoding runs up to max_length steps, whatever the targets' length."""
    src, tgt = data.encode_source(pairs), data.encode_target(pairs)
    y = tgt[:, 1:]
    mask = y != 0
    best, _ = model.score(src, tgt)
    greedy, _ = model.greedy(src, max_length)
    free = np.zeros_like(y)
    n = min(greedy.shape[1], y.shape[1])
    free[:, :n] = greedy[:, :n]
    return ((best == y) & mask).sum(), ((free == y) & mask).sum(), mask.sum(), greedy


def evaluate(data, model, cfg):
    """Scores of one model on the whole test set (see the module docstring)."""
    chrf = CHRF()
    refs, greedy_out, beam_out, by_length = [], [], [], {}
    tf_right = free_right = positions = 0
    for S, pairs in data.by_length(data.test).items():
        tf, fr, n, greedy = token_accuracies(data, model, pairs, cfg["max_length"])
        tf_right, free_right, positions = tf_right + tf, free_right + fr, positions + n
        outs = [data.decode_target(row) for row in greedy]
        beams = [data.decode_target(model.beam(data.encode_source([p])[0], cfg["beam_width"],
                                               cfg["max_length"])[0]) for p in pairs]
        right = [o == t for o, (_, t) in zip(outs, pairs, strict=True)]
        by_length[S] = {"count": len(pairs), "exact": float(np.mean(right))}
        refs += [t for _, t in pairs]
        greedy_out += outs
        beam_out += beams

    def exact(outs):
        return float(np.mean([o == r for o, r in zip(outs, refs, strict=True)]))

    by_digits = {}
    for o, r in zip(greedy_out, refs, strict=True):
        by_digits.setdefault(len(r), []).append(o == r)
    return {"greedy_exact": exact(greedy_out), "beam_exact": exact(beam_out),
            "greedy_chrf": chrf.corpus_score(greedy_out, [refs]).score,
            "beam_chrf": chrf.corpus_score(beam_out, [refs]).score,
            "teacher_forced_token_acc": float(tf_right / positions),
            "free_running_token_acc": float(free_right / positions),
            "by_source_length": {str(k): v for k, v in by_length.items()},
            "by_digits": {str(k): {"count": len(v), "exact": float(np.mean(v))}
                          for k, v in sorted(by_digits.items())},
            "examples": [{"source": " ".join(p[0]), "target": p[1], "greedy": o}
                         for p, o in zip(data.test[:8], greedy_out[:8], strict=True)]}


def alignments(data, model, cfg):
    """Attention weights of greedy decoding for a few test numbers of 7 to 9 digits."""
    picks = [p for p in data.test if 7 <= len(p[1]) <= 9][:cfg["alignments"]]
    out = []
    for words, digits in picks:
        tokens, weights = model.greedy(data.encode_source([(words, digits)]), cfg["max_length"])
        steps = len(data.decode_target(tokens[0])) + 1      # the digits and <END>
        out.append({"source": words, "target": digits,
                    "output": [data.tgt_vocab[i] for i in tokens[0][:steps]],
                    "weights": np.round(weights[0, :steps], 4).tolist()})
    return out


def run(out="results/seq2seq.json", log=print, **over):
    cfg = {**CONFIG, **over}
    result = run_header("seq2seq/1", SEED)
    data = NumberData.make(cfg["data_seed"], cfg["train_size"], cfg["test_size"])
    runs = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name, (attention, mode) in RUNS.items():
            model, trainer = train(data, name, cfg)
            scores = evaluate(data, model, cfg)
            runs[name] = {"attention": attention, "training": mode,
                          "params": int(sum(v.size for v in model.params.values())),
                          "final_loss": float(np.mean(trainer.loss_history[-50:])),
                          "time_s": round(trainer.elapsed, 2),
                          "first_losses": trainer.first_losses, **scores}
            if attention is not None and mode == "teacher":
                runs[name]["alignments"] = alignments(data, model, cfg)
            log(f"{name}: exact {scores['greedy_exact']:.3f} (beam "
                f"{scores['beam_exact']:.3f}), chrF {scores['greedy_chrf']:.1f}, "
                f"{trainer.elapsed:.0f} CPU s")
    result.update({"config": cfg, "seed": SEED, "runs": runs,
                   "schedule_k": schedule_k(cfg["steps"]),
                   "task": "English number words to digits (rnnlib.numbers)",
                   "test_numbers": len(data.test),
                   "train_pairs": len(data.train)})
    finish_header(result)
    if out:
        write_json(out, result)
        log(f"wrote {out}")
    return result


def replay(result, results_dir=None):
    """Every run's first recorded losses, trained again. Returns (label, recorded, replayed)."""
    cfg, checks = result["config"], []
    data = NumberData.make(cfg["data_seed"], cfg["train_size"], cfg["test_size"])
    with threadpool_limits(limits=1, user_api="blas"):
        for name, row in result["runs"].items():
            _, trainer = train(data, name, cfg, stop_at=len(row["first_losses"]))
            checks.append((f"{name}: first losses", row["first_losses"],
                           trainer.first_losses))
    return checks


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="results/seq2seq.json")
    ap.add_argument("--steps", type=int, default=CONFIG["steps"])
    args = ap.parse_args(argv)
    run(args.out, steps=args.steps)


if __name__ == "__main__":
    main()
