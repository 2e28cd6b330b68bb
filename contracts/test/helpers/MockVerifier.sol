// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IGroth16Verifier} from "../../src/IGroth16Verifier.sol";

/// @notice A verifier that gives whatever answer the test set, for Settlement logic that
///         does not depend on the proof (the real verifier is tested on its own and with a
///         trapdoor key). It claims the meter circuit's five public inputs unless told
///         otherwise.
contract MockVerifier is IGroth16Verifier {
    bool public answer = true;
    uint256 public inputCount = 5;

    function setAnswer(bool answer_) external {
        answer = answer_;
    }

    function setInputCount(uint256 count) external {
        inputCount = count;
    }

    // forge-lint: disable-next-line(mixed-case-function) the interface's name
    function PUBLIC_INPUTS() external view returns (uint256) {
        return inputCount;
    }

    function verifyProof(uint256[8] calldata, uint256[6] calldata) external view returns (bool) {
        return answer;
    }

    function verifyBatch(uint256[8][] calldata, uint256[6][] calldata) external view returns (bool) {
        return answer;
    }
}
