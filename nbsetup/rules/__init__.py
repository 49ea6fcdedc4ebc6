"""The newer `nbsetup check` rules, one module each; `nbsetup.lint` runs them.

Each rule is a function of the notebook's install sites (and what else it needs) yielding
`Finding`s, registered under its code in `diagnostics.CODES`.
"""
