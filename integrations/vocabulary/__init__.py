"""The platforms' vocabularies as the portal uses them: one module per platform, each naming the
contract document (docs/upstreams/) its values come from and which of them are our assumption.

Pure data, no Django: `devices/kinds.py` (forms, imports), the clients and the adapters read it. The
emulators in `integrations/sandbox/` keep their own copies, written from the same documents.
"""
