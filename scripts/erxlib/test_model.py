"""FFN pruning (model.ffn_neuron_scores, model.prune_ffn) on a tiny random model. Needs
torch (the training environment, scripts/requirements.txt); skipped without it:

  .venv/bin/python -m unittest discover -s scripts/erxlib -p 'test_*.py'
"""
import unittest

try:
    import torch
except ImportError:  # the test command's plain python3 has no torch
    torch = None

CFG = {"hidden_size": 8, "num_attention_heads": 2, "intermediate_size": 6, "num_hidden_layers": 2,
       "vocab_size": 20, "max_position_embeddings": 16, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
       "hidden_dropout_prob": 0.0}


@unittest.skipIf(torch is None, "torch is not installed")
class PruneFfnTest(unittest.TestCase):
    def setUp(self):
        from model import ErxModelV2
        torch.manual_seed(3)
        self.make = lambda cfg: ErxModelV2(cfg, 5, 3, 2, rel_rank=4, phrase_rank=4, n_case=6, pair_context=True)
        self.model = self.make(CFG).eval()
        self.inputs = (torch.tensor([[2, 5, 7, 3], [2, 9, 3, 0]]), torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
                       torch.tensor([[0, 1, 2, 0], [0, 3, 0, 0]]))

    def test_silent_neurons_score_zero(self):
        from model import ffn_neuron_scores
        with torch.no_grad():
            self.model.encoder.layers[0].ff2.weight[:, [1, 4]] = 0.0
        scores = ffn_neuron_scores(self.model, [self.inputs])
        self.assertEqual([s.shape[0] for s in scores], [6, 6])
        self.assertEqual(scores[0][1].item(), 0.0)
        self.assertEqual(scores[0][4].item(), 0.0)
        self.assertTrue(bool((scores[1] > 0).all()))

    def test_dropping_silent_neurons_keeps_every_output(self):
        from model import ffn_neuron_scores, prune_ffn
        with torch.no_grad():
            for layer in self.model.encoder.layers:
                layer.ff2.weight[:, [0, 3]] = 0.0
        scores = ffn_neuron_scores(self.model, [self.inputs])
        state = prune_ffn(self.model.state_dict(), scores, 4)
        self.assertEqual(tuple(state["encoder.layers.0.ff1.weight"].shape), (4, 8))
        self.assertEqual(tuple(state["encoder.layers.1.ff2.weight"].shape), (8, 4))
        # the kept neurons stay in their order: rows 1, 2, 4, 5 of ff1
        full = self.model.state_dict()
        self.assertTrue(torch.equal(state["encoder.layers.0.ff1.bias"], full["encoder.layers.0.ff1.bias"][[1, 2, 4, 5]]))
        pruned = self.make({**CFG, "intermediate_size": 4}).eval()
        pruned.load_state_dict(state)
        with torch.no_grad():
            for a, b in zip(self.model(*self.inputs), pruned(*self.inputs)):
                torch.testing.assert_close(a, b)

    def test_dropping_live_neurons_changes_the_output(self):
        from model import ffn_neuron_scores, prune_ffn
        scores = ffn_neuron_scores(self.model, [self.inputs])
        pruned = self.make({**CFG, "intermediate_size": 4}).eval()
        pruned.load_state_dict(prune_ffn(self.model.state_dict(), scores, 4))
        with torch.no_grad():
            self.assertFalse(torch.allclose(self.model(*self.inputs)[0], pruned(*self.inputs)[0]))


if __name__ == "__main__":
    unittest.main()
