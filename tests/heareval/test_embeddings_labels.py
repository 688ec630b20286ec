from heareval.embeddings.labels import frame_labels


def test_interval_membership_follows_hear_eval_kit():
    events = [
        {"label": "a", "start": 100.0, "end": 200.0},
        {"label": "b", "start": 150.0, "end": 150.0},
        {"label": "a", "start": 180.0, "end": 300.0},
    ]
    ts = [99.9, 100.0, 150.0, 199.99, 200.0, 200.0001, 300.0, 300.1]
    assert frame_labels(events, ts) == [[], ["a"], ["a", "b"], ["a"], ["a"], ["a"], ["a"], []]


def test_no_events_gives_empty_lists():
    assert frame_labels([], [0.0, 50.0]) == [[], []]
