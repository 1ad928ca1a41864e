import OLCore

/// The one-line message `body` refuses its input with, nil if it accepts it, or "unexpected …" for an
/// error that is not an `OutlierLabError` (the fuzz regressions expect only those).
public func rejectionMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch let error as OutlierLabError {
        return error.message
    } catch {
        return "unexpected \(error)"
    }
}
