import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Collects element names and checks the document parses as XML.
public final class ElementCollector: NSObject, XMLParserDelegate {
    public var elements: [String] = []
    public var classes: [String] = []
    public func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        elements.append(name)
        if let value = attributes["class"] { classes.append(value) }
    }

    public static func parse(_ text: String) -> (ok: Bool, collector: ElementCollector) {
        let collector = ElementCollector()
        let parser = XMLParser(data: Data(text.utf8))
        parser.delegate = collector
        return (parser.parse(), collector)
    }
}
