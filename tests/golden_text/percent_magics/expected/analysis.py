# ---
# jupyter:
#   jupytext:
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

# %% nbsetup={"role": "environment"}
# nbsetup: environment cell, generated from this notebook's installs, pinned by requirements.txt.
# nbsetup: it runs before any other code; to change it, edit the installs or the requirements and run `nbsetup fix`.
# !pip install -q pandas==2.2.2
# %pip install matplotlib==3.9.0

# %%
import pandas as pd

# %%
import matplotlib.pyplot as plt


# %%
def total(frame):
    return frame["amount"].sum()
# %% tags=["keep"]
x  =  1   # spacing as the author wrote it
