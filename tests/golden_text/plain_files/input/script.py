# %%
# !pip install numpy
import numpy
