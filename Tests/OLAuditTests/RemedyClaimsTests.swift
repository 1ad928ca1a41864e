import Testing
@testable import OLAudit
@testable import OLCore
@testable import OLRuns

/// Issue 30's claims: Bondarenko et al.'s remedies and SmoothQuant are judged only where outlier features
/// exist, so they run at the full and regime scales and the quick scale says why it skips them.
@Suite("Remedy claims")
struct RemedyClaimsTests {
    static let ids = ["clipped-softmax-lowers-kurtosis", "gated-attention-lowers-kurtosis", "smoothquant-recovers-w8a8",
                      "op-soap-vs-bondarenko-remedies"]
    /// The claims judged in the outlier regime: the two kurtosis claims as they are, and the 8-bit pair
    /// restated at 6 bits, the regime's lowest width resolved for every arm.
    static let regimeIDs = ["clipped-softmax-lowers-kurtosis", "gated-attention-lowers-kurtosis", "smoothquant-recovers-6bit",
                            "op-soap-vs-bondarenko-static-6bit"]

    @Test("the four remedy claims skip the quick scale, saying why, and run at the full scale")
    func fullScaleNotQuick() throws {
        let registry = try ClaimRegistry.bundled()
        for id in Self.ids {
            let claim = try #require(registry.claims.first { $0.id == id }, "missing claim \(id)")
            #expect(registry.seeds(claim: claim, scale: .quick).isEmpty, "\(id) runs at the quick scale")
            #expect(registry.seeds(claim: claim, scale: .full).count >= 5, "\(id) needs the full scale's seeds")
            let why = try #require(claim.scales[.quick]?.why, "\(id) does not say why it skips the quick scale")
            #expect(why.contains("outlier features") || why.contains("activation outliers"))
        }
    }

    @Test("every remedy is judged in the outlier regime, behind a precondition that the baseline has outlier features")
    func judgedInTheRegime() throws {
        let registry = try ClaimRegistry.bundled()
        for id in Self.regimeIDs {
            let claim = try #require(registry.claims.first { $0.id == id }, "missing claim \(id)")
            #expect(registry.seeds(claim: claim, scale: .regime).count >= 5, "\(id) is not judged at the regime scale")
            #expect(claim.preconditions.contains { $0.kind == .outlierFeatures && $0.arm == "Pre-LN + AdamW" },
                    "\(id) can judge a remedy where there is nothing to remedy")
        }
        let smooth = try #require(registry.claims.first { $0.id == "smoothquant-recovers-6bit" })
        #expect(smooth.metric.quantRequests(layers: 4) == [QuantRequest(scheme: "w8a8-smooth", bits: 6), QuantRequest(scheme: "w8a8-naive", bits: 6)])
    }

    @Test("SmoothQuant's claim reads w8a8-smooth's Δppl relative to w8a8-naive's on the same run, and needs both")
    func smoothQuantMetricIsRelative() throws {
        let registry = try ClaimRegistry.bundled()
        let claim = try #require(registry.claims.first { $0.id == "smoothquant-recovers-w8a8" })
        let smooth = QuantRequest(scheme: "w8a8-smooth", bits: 8), naive = QuantRequest(scheme: "w8a8-naive", bits: 8)
        #expect(claim.metric.source == .quantisedRelative(smooth, baseline: naive, .deltaPPL))
        #expect(claim.metric.quantRequests(layers: 4) == [smooth, naive])
        #expect(claim.metric.isQuantised)
    }

    @Test("a registry scale's why must be a non-empty string")
    func whyMustBeText() throws {
        let reader = JSONReader(source: "test registry")
        #expect(throws: OutlierLabError.self) { try reader.scale(.object([JSONMember("run", .bool(false)), JSONMember("why", .int(3))]), "scales.quick") }
        let spec = try reader.scale(.object([JSONMember("run", .bool(false)), JSONMember("why", .string("no outliers yet"))]), "scales.quick")
        #expect(!spec.included && spec.why == "no outliers yet")
    }
}
