"""The backprop dependency check (claimbook.debug, chapter 05)."""

import pytest
import torch
from torch import nn

from claimbook.debug import BatchDependencies, backprop_dependencies, dependency_matrix


class RowSeq(nn.Module):
    """Image rows as a sequence for a sequence-first GRU; `bug` reshapes with view."""

    def __init__(self, bug: bool = False, n_classes: int = 3):
        super().__init__()
        self.bug = bug
        self.embed = nn.Linear(3 * 8, 16)
        self.rnn = nn.GRU(16, 16)  # sequence-first: (L, B, H)
        self.fc = nn.Linear(16, n_classes)

    def forward(self, x):
        b, c, h, w = x.shape
        seq = self.embed(x.permute(0, 2, 1, 3).reshape(b, h, c * w))  # (B, L, H)
        seq = seq.view(h, b, -1) if self.bug else seq.permute(1, 0, 2)  # -> (L, B, H)
        out, _ = self.rnn(seq)
        return self.fc(out[-1])


def conv_bn():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4, 2),
    )


X = torch.rand(6, 3, 8, 8)


def test_clean_model_passes():
    model = RowSeq(bug=False)
    for i in range(len(X)):
        dep = backprop_dependencies(model, X, i)
        assert isinstance(dep, BatchDependencies)
        assert dep.ok
        assert dep.independent
        assert dep.receives == (i,)
        assert all(
            g == 0.0 for j, g in enumerate(dep.grad_norms) if j != i
        )  # exact zeros
        assert dep.grad_norms[i] > 0


def test_view_instead_of_permute_is_caught():
    model = RowSeq(bug=True)
    dep = backprop_dependencies(model, X, 2)
    assert not dep.ok
    assert dep.leaks
    assert len(dep.receives) > 1


def test_same_output_shape_so_only_the_check_sees_the_bug():
    assert RowSeq(bug=True)(X).shape == RowSeq(bug=False)(X).shape == (6, 3)


def test_batchnorm_train_mode_leaks_eval_mode_does_not():
    model = conv_bn().train()
    dep = backprop_dependencies(model, X, 0)
    assert dep.training
    assert dep.leaks == (1, 2, 3, 4, 5)
    model.eval()
    dep = backprop_dependencies(model, X, 0)
    assert not dep.training
    assert dep.ok


def test_mode_buffers_and_param_grads_are_left_alone():
    model = conv_bn().train()
    bn = model[1]
    before = (
        bn.running_mean.clone(),
        bn.running_var.clone(),
        int(bn.num_batches_tracked),
    )
    backprop_dependencies(model, X, 3)
    assert model.training
    assert torch.equal(bn.running_mean, before[0])
    assert torch.equal(bn.running_var, before[1])
    assert int(bn.num_batches_tracked) == before[2]
    assert all(p.grad is None for p in model.parameters())


def test_dependency_matrix_is_diagonal_for_clean_model():
    model = conv_bn().eval()
    m = dependency_matrix(model, X)
    assert m.shape == (6, 6)
    off = m - torch.diag(torch.diag(m))
    assert torch.count_nonzero(off) == 0
    assert bool((torch.diag(m) > 0).all())
    leaky = dependency_matrix(RowSeq(bug=True), X)
    assert torch.count_nonzero(leaky - torch.diag(torch.diag(leaky))) > 0


def test_batch_dim_one_for_sequence_first_inputs():
    rnn = nn.GRU(4, 5)

    class Last(nn.Module):
        def forward(self, x):  # (L, B, F) -> (L, B, H)
            return rnn(x)[0]

    xs = torch.rand(7, 3, 4)
    dep = backprop_dependencies(Last(), xs, 1, batch_dim=1)
    assert dep.ok
    assert len(dep.grad_norms) == 3


def test_bad_inputs_are_errors():
    with pytest.raises(TypeError):
        backprop_dependencies(nn.Embedding(5, 2), torch.tensor([1, 2]), 0)
    with pytest.raises(IndexError):
        backprop_dependencies(conv_bn().eval(), X, 6)


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_recurrent_model_in_eval_mode(device):
    # chapter 05 runs the check in eval mode; on a GPU, cuDNN's GRU/LSTM kernels
    # refuse backward in eval mode, so the check must not depend on them
    model = RowSeq(bug=False).to(device).eval()
    dep = backprop_dependencies(model, X.to(device), 3)
    assert not dep.training
    assert dep.ok
    assert dep.receives == (3,)
    buggy = RowSeq(bug=True).to(device).eval()
    assert backprop_dependencies(buggy, X.to(device), 3).leaks
