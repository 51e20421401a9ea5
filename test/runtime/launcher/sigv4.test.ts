import { EMPTY_PAYLOAD_SHA256, signRequest, uriEncode } from '../../../runtime/launcher/sigv4';

describe('SigV4 signing', () => {
  it("reproduces AWS's published GetObject example signature", () => {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html (Example: GET Object)
    const headers = signRequest({
      method: 'GET',
      url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
      headers: { Range: 'bytes=0-9' },
      payloadHash: EMPTY_PAYLOAD_SHA256,
      region: 'us-east-1',
      service: 's3',
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
      now: new Date('2013-05-24T00:00:00Z'),
    });
    expect(headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ' +
        'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, ' +
        'Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  it('signs the session token of temporary credentials', () => {
    const headers = signRequest({
      method: 'GET',
      url: new URL('https://b.s3.eu-west-1.amazonaws.com/proxy/abc/proxy.js'),
      region: 'eu-west-1',
      service: 's3',
      credentials: { accessKeyId: 'ASIA', secretAccessKey: 's', sessionToken: 'tok' },
      now: new Date('2026-01-01T00:00:00Z'),
    });
    expect(headers['x-amz-security-token']).toBe('tok');
    expect(headers.authorization).toContain('SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,');
  });

  it('encodes keys the way S3 canonicalises them', () => {
    expect(uriEncode('a b/ü~.js', true)).toBe('a%20b/%C3%BC~.js');
    expect(uriEncode('a/b', false)).toBe('a%2Fb');
  });
});
