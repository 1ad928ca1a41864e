import OLCore
import OLPlatform
/// The learning-rate schedule (<doc:Training>): linear warm-up over the first `warmupFraction` of the steps,
/// then linear (default) or cosine decay towards `finalFraction`·lr. As in Hugging Face's schedules the
/// floor is reached at step `steps` (one past the last step trained), so no step is wasted at rate 0.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Decay: String, Sendable, CaseIterable { case linear, cosine }

    public var peak: Double
    public var steps: Int
    public var warmupFraction: Double = 0.05
    public var decay: Decay = .linear
    /// The learning rate at the end as a fraction of the peak (0 by default).
    public var finalFraction: Double = 0

    public init(peak: Double, steps: Int, warmupFraction: Double = 0.05, decay: Decay = .linear, finalFraction: Double = 0) {
        self.peak = peak
        self.steps = steps
        self.warmupFraction = warmupFraction
        self.decay = decay
        self.finalFraction = finalFraction
    }

    /// Number of warm-up steps (rounded up, so any positive fraction warms up for at least one step).
    public var warmupSteps: Int { Int((warmupFraction * Double(steps)).rounded(.up)) }

    /// The learning rate used by step `step` (0-based): step 0 of a warm-up already has lr·1/warmup.
    public func rate(at step: Int) -> Double {
        let warmup = warmupSteps
        if step < warmup { return peak * Double(step + 1) / Double(warmup) }
        let decaySteps = max(1, steps - warmup)
        let progress = min(1, Double(step - warmup) / Double(decaySteps))
        let floor = peak * finalFraction
        switch decay {
        case .linear: return floor + (peak - floor) * (1 - progress)
        case .cosine: return floor + (peak - floor) * 0.5 * (1 + OLPlatform.cos(Double.pi * progress))
        }
    }
}

