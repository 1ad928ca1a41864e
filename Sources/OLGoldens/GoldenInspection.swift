import OLCore

/// Human-readable views of golden files for `olab golden show` and `olab golden diff`.
public enum GoldenInspection {
    /// The header and per-tensor statistics (over finite values; non-finite ones are counted).
    public static func show(_ path: String) throws -> String {
        let loaded = try LoadedGolden.read(path)
        let file = loaded.file, goldenCase = file.goldenCase, provenance = file.provenance
        var lines = [
            path,
            "case \(goldenCase.id), kind \(goldenCase.kind), seed \(goldenCase.seed), format version \(file.formatVersion)",
            "recorded by harness \(provenance.harnessVersion) at git \(provenance.gitRevision); BLAS \(provenance.blasCore), \(provenance.blasThreads) threads (\(provenance.blasConfig))",
            "config \(goldenCase.config.serialized())",
            "content sha256 \(loaded.contentSHA256)",
        ]
        var table = MarkdownTable(header: ["tensor", "dtype", "shape", "min", "max", "mean", "rms", "non-finite", "compare"])
        for entry in goldenCase.tensors {
            let stats = Statistics(entry.tensor.values)
            let cells = [stats.min, stats.max, stats.mean, stats.rms].map { $0.map { NumberText.general($0, digits: 6) } ?? "-" }
            table.rows.append([entry.name, entry.tensor.values.dtype, "\(entry.tensor.shape)"] + cells + ["\(stats.nonFinite)", "\(entry.compare)"])
        }
        lines.append(table.rendered())
        return lines.joined(separator: "\n")
    }

    /// Compares two golden files, or every golden in two trees (e.g. `Goldens` and `.build/golden-actual`),
    /// tensor by tensor under the compare modes of the first. Returns the table and whether any differs.
    public static func diff(_ pathA: String, _ pathB: String) throws -> (table: String, differs: Bool) {
        for path in [pathA, pathB] where !FilePath.exists(path) { throw OutlierLabError("\(path): no such golden file or folder") }
        let areFolders = [pathA, pathB].map(FilePath.isDirectory)
        guard areFolders[0] == areFolders[1] else { throw OutlierLabError("compare two golden files or two folders, not a file with a folder (\(pathA), \(pathB))") }
        var table = MarkdownTable(header: ["golden", "tensor", "status", "max abs diff", "max rel diff"])
        var differs = false
        var pairs: [(label: String, a: String, b: String)] = []
        if areFolders[0] {
            let filesA = Set(try DirectoryListing.files(under: pathA).filter { $0.hasSuffix(".golden.gz") })
            let filesB = Set(try DirectoryListing.files(under: pathB).filter { $0.hasSuffix(".golden.gz") })
            for relative in filesA.union(filesB).sorted() {
                if filesA.contains(relative) && filesB.contains(relative) {
                    pairs.append((relative, "\(pathA)/\(relative)", "\(pathB)/\(relative)"))
                } else {
                    table.rows.append([relative, "-", filesA.contains(relative) ? "only in A" : "only in B", "-", "-"])
                    differs = true
                }
            }
        } else {
            pairs = [(pathA, pathA, pathB)]
        }
        for pair in pairs {
            let a = try LoadedGolden.read(pair.a).file, b = try LoadedGolden.read(pair.b).file
            let (problems, _) = Goldens.compare(b.goldenCase, with: a)
            for problem in problems where !problem.hasPrefix("tensor ") {
                table.rows.append([pair.label, "-", problem, "-", "-"])
                differs = true
            }
            let tensorsB = Dictionary(b.goldenCase.tensors.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            for entry in a.goldenCase.tensors {
                guard let other = tensorsB[entry.name] else {
                    table.rows.append([pair.label, entry.name, "only in A", "-", "-"])
                    differs = true
                    continue
                }
                let row = tensorRow(a: entry, b: other)
                differs = differs || row.status != "identical"
                table.rows.append([pair.label, entry.name, row.status, row.abs, row.rel])
            }
            let namesA = Set(a.goldenCase.tensors.map(\.name))
            for entry in b.goldenCase.tensors where !namesA.contains(entry.name) {
                table.rows.append([pair.label, entry.name, "only in B", "-", "-"])
                differs = true
            }
        }
        return (table.rendered(), differs)
    }

    private static func tensorRow(a: GoldenTensor, b: GoldenTensor) -> (status: String, abs: String, rel: String) {
        guard a.tensor.values.dtype == b.tensor.values.dtype, a.tensor.shape == b.tensor.shape else {
            return ("\(a.tensor.values.dtype) \(a.tensor.shape) vs \(b.tensor.values.dtype) \(b.tensor.shape)", "-", "-")
        }
        let bitwise = TensorComparison.compare(actual: b.tensor, golden: a.tensor, mode: .exact)
        let abs = bitwise.greatestAbsolute.map { NumberText.general($0.value, digits: 4) } ?? "-"
        let rel = bitwise.greatestRelative.map { NumberText.general($0.value, digits: 4) } ?? "-"
        if bitwise.passed { return (a.compare == b.compare ? "identical" : "identical values; compare \(a.compare) vs \(b.compare)", abs, rel) }
        let underMode = TensorComparison.compare(actual: b.tensor, golden: a.tensor, mode: a.compare)
        let status = underMode.passed
            ? "within tolerance (\(bitwise.mismatchCount) of \(bitwise.count) differ)"
            : "differs (\(underMode.mismatchCount) of \(underMode.count) beyond \(a.compare))"
        return (status, abs, rel)
    }

    /// min, max, mean and root-mean-square over finite values, accumulated in Double.
    struct Statistics {
        var min: Double?
        var max: Double?
        var mean: Double?
        var rms: Double?
        var nonFinite = 0

        init(_ values: NamedTensor.Values) {
            let doubles: [Double] = switch values {
            case .float32(let v): v.map(Double.init)
            case .float64(let v): v
            case .int64(let v): v.map(Double.init)
            case .uint8(let v): v.map(Double.init)
            case .int8(let v): v.map(Double.init)
            }
            var sum = 0.0, squares = 0.0, finite = 0
            for value in doubles {
                guard value.isFinite else { nonFinite += 1; continue }
                min = Swift.min(min ?? value, value)
                max = Swift.max(max ?? value, value)
                sum += value
                squares += value * value
                finite += 1
            }
            if finite > 0 {
                mean = sum / Double(finite)
                rms = (squares / Double(finite)).squareRoot()
            }
        }
    }
}
