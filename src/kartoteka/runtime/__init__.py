"""Long-running process bodies (worker, relay): composition on top of the dishka providers."""
