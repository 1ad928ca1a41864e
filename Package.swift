// swift-tools-version: 6.2
// OutlierLab: deterministic CPU training, outlier-feature metrics, int8 quantisation and a
// paper-claims audit for small byte-level transformers (He et al., NeurIPS 2024).
import PackageDescription

/// One system-library target per Debian C library, found through pkg-config.
let cLibraries: [Target] = [
    .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CJSON", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),
    .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
    // Puts OpenBLAS on one thread when the process loads (a C constructor): see BLAS.swift.
    .target(name: "CBLASStartup", dependencies: ["CBLAS"]),
    // expf of a row of floats, eight lanes at a time, bitwise equal to libm's expf (exp.c).
    .target(name: "CVectorMath"),
    // The one platform switch: re-exports Glibc, Musl or Darwin; OLCore re-exports it in turn.
    .target(name: "OLPlatform"),
]

/// Library modules in data-flow order: each depends only on modules above it.
let modules: [(name: String, dependencies: [Target.Dependency])] = [
    ("OLCore", ["OLPlatform", "CJSON", "CBLAS", "CBLASStartup"]),
    ("OLKernels", ["OLCore", "CVectorMath"]),
    ("OLData", ["OLCore"]),
    ("OLModel", ["OLCore", "OLKernels"]),
    ("OLOptimizers", ["OLCore", "CBLAS"]),
    ("OLMetrics", ["OLCore"]),
    ("OLQuant", ["OLCore", "OLKernels", "OLModel", "OLData", "OLMetrics"]),
    ("OLGoldens", ["OLCore", "CZlib"]),
    ("OLTraining", ["OLCore", "OLKernels", "OLData", "OLModel", "OLOptimizers", "OLMetrics", "OLQuant"]),
    // Run execution: specs, the sealed run cache, the in-process, local and Slurm backends, sweeps.
    ("OLRuns", ["OLCore", "OLData", "OLModel", "OLMetrics", "OLQuant", "OLTraining"]),
    // Reports and charts of finished runs (`olab report`, a sweep's summary page, the audit's pages).
    ("OLReports", ["OLCore", "OLMetrics", "OLQuant", "OLTraining", "OLRuns"]),
    // The paper-claims audit: claims, predicates, statistics of seeds and verdicts.
    ("OLAudit", ["OLCore", "OLData", "OLModel", "OLOptimizers", "OLMetrics", "OLQuant", "OLTraining", "OLRuns", "OLReports"]),
    // `olab fuzz`: seeded mutations of every reader of outside input (goldens, checkpoints, configs,
    // manifests, sweep grids, claims registries).
    ("OLFuzz", ["OLCore", "OLGoldens", "OLTraining", "OLRuns", "OLAudit"]),
    // `olab bench`: sgemm speed, training throughput, step breakdown and memory; nothing else depends on it.
    ("OLBench", ["OLCore", "OLKernels", "OLModel", "OLOptimizers"]),
]

/// Bundled resources per library module (the audit's claims registry).
let moduleResources: [String: [Resource]] = ["OLAudit": [.copy("Resources/claims.json")]]

let libraryTargets: [Target] = modules.map { module in
    .target(name: module.name, dependencies: module.dependencies, resources: moduleResources[module.name])
}

/// Test-only dependencies beyond the module itself, OLGoldens, OLCore and OLTestSupport.
let extraTestDependencies: [String: [String]] = [
    "OLTraining": ["AllocationCounter", "OLRuns"],
    "OLRuns": ["OLTraining", "OLReports", "OLRunFixtures"],
    "OLReports": ["OLTraining", "OLRuns", "OLRunFixtures"],
    "OLAudit": ["OLTraining", "OLMetrics", "OLRuns", "OLReports", "OLRunFixtures"],
    "OLFuzz": ["OLTraining"],
]

let testTargets: [Target] = modules.map { module in
    .testTarget(
        name: module.name + "Tests",
        dependencies: ([module.name, "OLGoldens", "OLCore", "OLTestSupport"] + extraTestDependencies[module.name, default: []]).uniqued().map { .target(name: $0) }
    )
} + [
    // `olab` as a user runs it, in a child process: flags, exit statuses, output paths, whole commands.
    .testTarget(name: "OlabCLITests", dependencies: ["OLCore", "OLTraining", "OLGoldens", "OLRuns", "OLReports", "OLTestSupport"]),
    // What every test target shares: bitwise comparisons that report the first difference fast, scratch
    // directories, `olab` run in a child process, the tiny runs' flags.
    .target(name: "OLTestSupport", dependencies: ["OLCore"], path: "Tests/OLTestSupport"),
    // Runs and grids as the run, report and audit tests use them: run directories as `olab train` leaves
    // them, a tiny sweep grid.
    .target(name: "OLRunFixtures", dependencies: ["OLCore", "OLRuns", "OLReports"], path: "Tests/OLRunFixtures"),
    // Counting malloc wrappers for the "a training step allocates nothing" test (C, test-only).
    .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
]

extension Array where Element == String {
    /// The elements in order, each once.
    func uniqued() -> [String] {
        var seen = Set<String>()
        return filter { seen.insert($0).inserted }
    }
}

let package = Package(
    name: "OutlierLab",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "olab", targets: ["olab"]),
    ] + modules.map { .library(name: $0.name, targets: [$0.name]) },
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        // `make docs`: builds the DocC catalogs (Sources/<Module>/<Module>.docc) into static HTML.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: cLibraries + libraryTargets + testTargets + [
        .executableTarget(
            name: "olab",
            dependencies: modules.map { .target(name: $0.name) } + [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
    ]
)
