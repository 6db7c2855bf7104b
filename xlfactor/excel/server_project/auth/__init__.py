"""Authentication providers of the xlfactor xlwings Server project (xlwings Server imports ``auth.<provider>``)."""
