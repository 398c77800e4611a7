"""The engine: spec'd models -> real Keras models, trained as populations on JAX.

The only stage that imports JAX and Keras for training, and nothing from spec/:
models (build a keras.Model), optimizers (Keras' maths as pure JAX functions),
probe (cheap per-epoch statistics), member_math (one member's pure step), layout
(every execution strategy, chosen once, and `lift`: a member's function over the
population), program (the Program, its Members, and the Compiled functions), parts
(a population's parts side by side on CPU), rows (the rows it takes), tracker (each
member's standing across epochs), callbacks (what a caller may do while it trains)
and train (the loop over epochs).
"""
