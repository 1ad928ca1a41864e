// Every module that imports OLCore gets the C library too (see Sources/OLPlatform/Platform.swift).
@_exported import OLPlatform
