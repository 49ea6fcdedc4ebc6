# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Sales analysis
#
# Commented magics, as jupytext writes them in a percent script.

# %%
# !pip install -q pandas
import pandas as pd

# %%
# %pip install matplotlib
import matplotlib.pyplot as plt


# %%
def total(frame):
    return frame["amount"].sum()
# %% tags=["keep"]
x  =  1   # spacing as the author wrote it
