// The C library, chosen in this one place: Glibc on Debian, Musl on a static Linux SDK, Darwin on macOS.
// OLCore re-exports this module, so every other module reaches the C library by `import OLCore`, and a
// call that a Swift name shadows (a method called `write`, ArgumentParser's `exit(withError:)`) is
// written `OLPlatform.write(…)` or `OLPlatform.exit(…)`.
#if canImport(Glibc)
@_exported import Glibc
#elseif canImport(Musl)
@_exported import Musl
#elseif canImport(Darwin)
@_exported import Darwin
#else
#error("OutlierLab needs Glibc, Musl or Darwin")
#endif
