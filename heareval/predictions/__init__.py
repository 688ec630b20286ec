"""Downstream prediction stage: batched grid MLP, linear and kNN probes on stored embeddings.

Entry point: `python -m heareval.predictions.runner EMBEDDING_TASK_DIR ...`. Differences from
hear-eval-kit 2021.1.3, on purpose:
* training batches are reshuffled every epoch (the old kit never reshuffled);
* the sampled grid trains as one batched computation per architecture (mlp.py);
* the bias of a hidden Linear layer (followed by BatchNorm) is not updated: its gradient is zero in
  exact arithmetic and Adam only amplified round-off;
* a trailing training minibatch of one row is skipped (BatchNorm cannot normalise it);
* the event post-processing chosen at each validation check is stored with that checkpoint, so
  the old KeyError at test time (issue #432) cannot occur;
* the validation loss is the mean over all validation rows (the old kit averaged batch means);
* a configuration whose max_epochs ends before its first validation check is validated once at
  the end instead of having no score;
* seeds are derived per (run seed, rotation, configuration), see protocol.py.
"""
