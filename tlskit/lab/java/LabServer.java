// The lab's Java server (a JSSE backend): answers one HTTPS request on 127.0.0.1.
//
// java LabServer <keystore.p12> <storepass> <truststore|-> <need-client-auth true|false> [protocols]
//
// Prints "PORT <n>" once it listens, serves one connection and exits.
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class LabServer {
    static KeyStore load(String path, String pass) throws Exception {
        KeyStore ks = KeyStore.getInstance(path.endsWith(".jks") ? "JKS" : "PKCS12");
        try (InputStream in = new FileInputStream(path)) {
            ks.load(in, pass.toCharArray());
        }
        return ks;
    }

    public static void main(String[] args) throws Exception {
        char[] pass = args[1].toCharArray();
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(load(args[0], args[1]), pass);
        TrustManagerFactory tmf = null;
        if (!args[2].equals("-")) {
            tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(load(args[2], args[1]));
        }
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
        try (SSLServerSocket ss = (SSLServerSocket) ctx.getServerSocketFactory()
                .createServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            ss.setNeedClientAuth(Boolean.parseBoolean(args[3]));
            if (args.length > 4 && !args[4].isEmpty()) {
                ss.setEnabledProtocols(args[4].split(","));
            }
            System.out.println("PORT " + ss.getLocalPort());
            System.out.flush();
            try (SSLSocket s = (SSLSocket) ss.accept()) {
                s.startHandshake();
                InputStream in = s.getInputStream();
                byte[] buf = new byte[4096];
                in.read(buf);
                OutputStream out = s.getOutputStream();
                out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n"
                        + "Connection: close\r\n\r\n{\"status\":\"ok\"}\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
            } catch (javax.net.ssl.SSLException e) {
                System.out.println("SSLFAIL " + e);
            }
        }
    }
}
