/// A hyper-parameter a run's config may set, for the optimisers that accept it; the raw value is its
/// `config.json` key. Each optimiser's config lists the settings it accepts (`acceptedSettings`); the
/// learning rate (the schedule's) and weight decay apply to every optimiser and are not settings.
public enum OptimizerSetting: String, Sendable, CaseIterable {
    case beta1
    case beta2
    case eps
    case epsConvention = "eps_convention"
    case momentum
    case nesterov
    case preconditionFrequency = "precondition_frequency"
    case shampooBeta = "shampoo_beta"
    case preconditionEmbeddings = "precondition_embeddings"
}
