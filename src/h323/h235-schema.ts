/**
 * The H.235.0 types RAS carries (H235-SECURITY-MESSAGES, 09/2005), transcribed by hand like
 * ras-schema.ts: ClearToken, CryptoToken, the HASHED/ENCRYPTED/SIGNED wrappers, Params and
 * AuthenticationMechanism. The CryptoH323Token of H.225.0 is built on them in ras-schema.ts.
 *
 * TYPE-IDENTIFIER.&Type values (EncodedPwdCertToken, EncodedGeneralToken…) are open types in
 * PER: a length and the octets of the inner encoding, exactly an unconstrained OCTET STRING,
 * which is how they are modelled (the inner ClearToken can be decoded from those octets).
 */
import { INTEGER, NULL, OID, bits, bmp, choice, f, int, octets, open, opt, seq, type AsnType } from './asn.js';

export const TimeStamp = int(1, 4294967295);
export const Password = bmp(1, 128);
export const Identifier = bmp(1, 128);

const H235NonStandardParameter = seq('NonStandardParameter', [f('nonStandardIdentifier', OID), f('data', octets())], false);

export const Params = seq('Params', [opt('ranInt', INTEGER), opt('iv8', octets(8, 8))], true, [opt('iv16', octets(16, 16)), opt('iv', octets()), opt('clearSalt', octets())]);

const DHset = seq('DHset', [f('halfkey', bits(0, 2048)), f('modSize', bits(0, 2048)), f('generator', bits(0, 2048))], true);
const TypedCertificate = seq('TypedCertificate', [f('type', OID), f('certificate', octets())], true);

export const ClearToken = seq(
  'ClearToken',
  [
    f('tokenOID', OID),
    opt('timeStamp', TimeStamp),
    opt('password', Password),
    opt('dhkey', DHset),
    opt('challenge', octets(8, 128)),
    opt('random', INTEGER),
    opt('certificate', TypedCertificate),
    opt('generalID', Identifier),
    opt('nonStandard', H235NonStandardParameter),
  ],
  true,
  [opt('eckasdhkey', open('ECKASDH')), opt('sendersID', Identifier), opt('h235Key', open('H235Key')), opt('profileInfo', open('SEQUENCE OF ProfileElement'))],
);

/** An open type carrying an encoded ClearToken (TYPE-IDENTIFIER.&Type). */
const EncodedToken = octets();

export const HASHED = seq('HASHED', [f('algorithmOID', OID), f('paramS', Params), f('hash', bits())], false);
export const ENCRYPTED = seq('ENCRYPTED', [f('algorithmOID', OID), f('paramS', Params), f('encryptedData', octets())], false);
export const SIGNED = seq('SIGNED', [f('toBeSigned', EncodedToken), f('algorithmOID', OID), f('paramS', Params), f('signature', bits())], false);

export const CryptoToken: AsnType = choice(
  'CryptoToken',
  [
    ['cryptoEncryptedToken', seq('cryptoEncryptedToken', [f('tokenOID', OID), f('token', ENCRYPTED)], false)],
    ['cryptoSignedToken', seq('cryptoSignedToken', [f('tokenOID', OID), f('token', SIGNED)], false)],
    ['cryptoHashedToken', seq('cryptoHashedToken', [f('tokenOID', OID), f('hashedVals', ClearToken), f('token', HASHED)], false)],
    ['cryptoPwdEncr', ENCRYPTED],
  ],
  true,
);

export const AuthenticationMechanism = choice(
  'AuthenticationMechanism',
  [
    ['dhExch', NULL],
    ['pwdSymEnc', NULL],
    ['pwdHash', NULL],
    ['certSign', NULL],
    ['ipsec', NULL],
    ['tls', NULL],
    ['nonStandard', H235NonStandardParameter],
  ],
  true,
  [
    ['authenticationBES', choice('AuthenticationBES', [['default', NULL], ['radius', NULL]], true)],
    ['keyExch', OID],
  ],
);

/** H.225.0 ICV ::= SEQUENCE { algorithmOID OBJECT IDENTIFIER, icv BIT STRING } */
export const ICV = seq('ICV', [f('algorithmOID', OID), f('icv', bits())], false);
