"""Excel front ends: workbook writers (openpyxl) and worksheet-function adapters (xlwings).

Thin adapters only: every number comes from the analytics layer.
"""
