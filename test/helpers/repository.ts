import { repositoryUrls } from '../../src/activities/ca/embedded/repository';

/**
 * Repository URLs for an embedded CA whose CRL no one fetches in the test: a documentation host
 * (RFC 2606), never contacted. Tests that fetch the CRL start the repository server
 * (src/peers/ca-repository) and use its URLs instead.
 */
export const UNSERVED_REPOSITORY = repositoryUrls('http://pki.example.com/embedded-ca');
