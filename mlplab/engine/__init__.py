"""The engine: spec'd models -> real Keras models, trained as populations on JAX.

The only stage that imports JAX and Keras for training: models (build a
keras.Model), optimizers (Keras' maths as pure JAX functions), probe (cheap
per-epoch statistics), program (one compiled program per population) and
member_math (what it computes), parts (a population's parts side by side on
CPU), rows (the rows it takes) and train (the loop over epochs).
"""
