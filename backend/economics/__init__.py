"""Economics: pricing catalog, cost model, capacity planner, RAG-vs-fine-tuning decision engine and its report."""
