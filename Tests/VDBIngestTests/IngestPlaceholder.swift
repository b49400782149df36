import Testing
@testable import VDBIngest
