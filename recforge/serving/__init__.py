"""``recforge serve``: a saved model behind HTTP (see docs/serving.md).

engine (top-K, similar, rows for one model version) <- catalogue (live items) and ann
(vector index); hotswap (which version answers), batching (concurrent requests scored
together), app (routes, errors, token), schemas (bodies), metrics (Prometheus).
"""
