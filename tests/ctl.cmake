# tests of src/ctl
